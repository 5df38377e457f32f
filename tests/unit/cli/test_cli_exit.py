"""How a gnt-* command's process ends (``gnt.cli.common.exit_now``): without the interpreter's
teardown, yet with everything written out, the ``atexit`` functions run and the exit code
kept; the usual way when another thread is alive; never from inside a Python caller."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gnt.cli import network


def _run(body: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(body)], capture_output=True,
                          text=True, timeout=60, check=False)


def test_buffered_output_atexit_functions_and_code_survive(tmp_path: Path) -> None:
    mark = tmp_path / "atexit-ran"
    proc = _run(f"""
        import atexit, sys
        from gnt.cli.common import exit_now
        atexit.register(lambda: open({str(mark)!r}, "w").write("ran"))
        sys.stdout.write("x" * 100000)   # a pipe: block-buffered, not yet written
        sys.stderr.write("the end")
        exit_now(3)
        print("not reached")
    """)
    assert proc.returncode == 3
    assert proc.stdout == "x" * 100000
    assert proc.stderr == "the end"
    assert mark.read_text() == "ran"


def test_a_live_thread_is_waited_for(tmp_path: Path) -> None:
    done = tmp_path / "thread-done"
    proc = _run(f"""
        import threading, time
        from gnt.cli.common import exit_now
        def late():
            time.sleep(0.3)
            open({str(done)!r}, "w").write("done")
        threading.Thread(target=late).start()
        exit_now(5)
    """)
    assert proc.returncode == 5
    assert done.read_text() == "done"


def test_a_call_from_python_raises_system_exit() -> None:
    """``main(argv)`` called from Python code (tests, other tools) must not end the caller's
    process: it raises SystemExit as before (this test would kill pytest otherwise)."""
    with pytest.raises(SystemExit) as exc:
        network.main(["no-such-command"])
    assert exc.value.code != 0
