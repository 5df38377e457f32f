"""The warm module interpreter (gnt.nodes.modexec, issue 11): a payload run through it behaves
as in a fresh interpreter (output, exit code, environment, directory, umask, argv), the server
is reused and keyed by its fingerprint, a stopped client stops its module, and anything odd
(a dead server, a directory not ours alone) falls back to a fresh interpreter.

Real processes: the client is started as Ansible starts it, payload on stdin.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from ansible_collections.gnt.cluster.plugins.connection.local import run_here
from gnt.nodes import modexec, modexec_bundle, modexec_cache
from gnt.nodes.proctree import alive

PAYLOAD = """
import json, os, sys
sys.stderr.write("to stderr\\n")
print(json.dumps({"cwd": os.getcwd(), "var": os.environ.get("GNT_TEST_VAR"),
                  "argv": sys.argv, "umask": os.umask(0), "pid": os.getpid(),
                  "ppid": os.getppid(), "main": __name__, "pad": "%s"}))
sys.exit(int(os.environ.get("GNT_TEST_RC", "0")))
"""


def _run(script: Path | None, payload: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """``payload`` run by a fresh interpreter (no ``script``), or as Ansible runs it: through
    the launcher of ``script``'s client."""
    argv = [sys.executable]
    if script is not None:
        launcher = cwd / f"launcher-{abs(hash(str(script)))}"
        launcher.write_text(modexec.launcher_script(sys.executable, str(script), "test"))
        argv = ["/bin/sh", str(launcher)]
    return subprocess.run(argv, input=payload, capture_output=True, text=True, cwd=cwd,
                          env=dict(os.environ, **env), check=False, timeout=60)


def _fields(out: str) -> dict:
    import json

    return json.loads(out)


SCRIPT = Path(modexec.__file__)


def test_a_payload_runs_as_in_a_fresh_interpreter(servers, tmp_path):
    payload = PAYLOAD % ""
    odd = "a=b\nc\tdé {{ x }}"  # the header carries any value an environment can hold
    fresh = _run(None, payload, tmp_path, GNT_TEST_VAR=odd, GNT_TEST_RC="3")
    warm = _run(SCRIPT, payload, tmp_path, GNT_TEST_VAR=odd, GNT_TEST_RC="3")
    assert (warm.returncode, warm.stderr) == (fresh.returncode, fresh.stderr) == (3, "to stderr\n")
    ours, theirs = _fields(warm.stdout), _fields(fresh.stdout)
    for key in ("cwd", "var", "umask", "main"):
        assert ours[key] == theirs[key], key
    assert ours["var"] == odd and ours["argv"] == [""]
    assert ours["ppid"] in servers.pids()  # a fork of the server, not a new interpreter


def test_the_server_is_reused_and_sees_each_clients_environment(servers, tmp_path):
    first = _fields(_run(SCRIPT, PAYLOAD % "", tmp_path, GNT_TEST_VAR="a").stdout)
    second = _fields(_run(SCRIPT, PAYLOAD % "", tmp_path, GNT_TEST_VAR="b").stdout)
    assert first["ppid"] == second["ppid"]
    assert (first["var"], second["var"]) == ("a", "b")
    assert len(servers.pids()) == 1


def test_a_large_payload_gets_through(servers, tmp_path):
    result = _run(SCRIPT, PAYLOAD % ("x" * 300_000), tmp_path)
    assert result.returncode == 0
    assert len(_fields(result.stdout)["pad"]) == 300_000


def test_a_changed_interpreter_file_gets_a_new_server(servers, tmp_path):
    script = tmp_path / "modexec.py"
    for path in modexec_bundle.MODEXEC_FILES:  # modexec.py and what its server imports
        shutil.copy(path, tmp_path / path.name)
    first = _fields(_run(script, PAYLOAD % "", tmp_path).stdout)
    os.utime(script, ns=(script.stat().st_atime_ns, script.stat().st_mtime_ns + 10**9))
    second = _fields(_run(script, PAYLOAD % "", tmp_path).stdout)
    assert first["ppid"] != second["ppid"]
    assert len([path for path in servers.path.iterdir()
                if path.is_dir() and path.name != modexec_cache.CODE_CACHE]) == 2


def _started_client(payload: str, marker: Path, env: dict | None = None) -> subprocess.Popen:
    """A client running ``payload``, once the payload wrote ``marker``."""
    client = subprocess.Popen([sys.executable, "-I", str(SCRIPT)], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    assert client.stdin is not None
    client.stdin.write(payload.encode())
    client.stdin.close()
    deadline = time.monotonic() + 30
    # the payload creates the file, then writes its pid: wait for the pid, not the file
    while time.monotonic() < deadline and not (marker.exists() and marker.read_text()):
        time.sleep(0.05)
    return client


def test_a_stopped_client_stops_its_module(servers, tmp_path):
    marker = tmp_path / "pid"
    payload = f"import os, time\nopen({str(marker)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n"
    client = _started_client(payload, marker)
    module_pid = int(marker.read_text())
    client.kill()
    client.wait()
    deadline = time.monotonic() + 10
    while alive(module_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(module_pid)


def test_a_modules_temporary_files_go_with_it_even_when_it_is_stopped(servers, tmp_path):
    """Ansible's wrapper unpacks the payload into tempfile.mkdtemp() and removes it at exit; a
    module stopped by its client cannot: the server removes the module's temp dir itself."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    marker = tmp_path / "made"
    payload = ("import os, tempfile, time\n"
               "made = tempfile.mkdtemp(prefix='ansible_x_payload_')\n"
               "open(os.path.join(made, 'payload.zip'), 'w').write('zip')\n"
               f"open({str(marker)!r}, 'w').write(made + ' ' + oct(os.stat(tempfile.gettempdir()).st_mode))\n"
               "time.sleep(float(os.environ['GNT_TEST_SLEEP']))\n")
    done = _run(SCRIPT, payload, tmp_path, TMPDIR=str(tmpdir), GNT_TEST_SLEEP="0")
    assert done.returncode == 0, done.stderr
    made, mode = marker.read_text().split()
    assert Path(made).parent.parent == tmpdir  # under the client's TMPDIR, in a dir of its own
    assert int(mode, 8) & 0o777 == 0o700
    deadline = time.monotonic() + 10
    while list(tmpdir.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmpdir.iterdir()) == []
    marker.unlink()
    client = _started_client(payload, marker,
                             dict(os.environ, TMPDIR=str(tmpdir), GNT_TEST_SLEEP="60"))
    assert Path(marker.read_text().split()[0]).is_dir()
    client.kill()
    client.wait()
    deadline = time.monotonic() + 10
    while list(tmpdir.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmpdir.iterdir()) == []


def test_a_killed_server_is_replaced(servers, tmp_path):
    first = _fields(_run(SCRIPT, PAYLOAD % "", tmp_path).stdout)
    os.kill(first["ppid"], signal.SIGKILL)
    time.sleep(0.2)
    second = _fields(_run(SCRIPT, PAYLOAD % "", tmp_path).stdout)
    assert second["ppid"] != first["ppid"]


def test_a_directory_others_can_write_means_a_fresh_interpreter(servers, tmp_path):
    os.chmod(servers.path, 0o777)
    result = _run(SCRIPT, PAYLOAD % "", tmp_path, GNT_TEST_RC="4")
    assert result.returncode == 4
    assert not servers.pids()
    assert not any(path.is_dir() for path in servers.path.iterdir())


def test_a_request_from_this_process_runs_as_the_clients(servers, tmp_path, monkeypatch):
    """The connection plugin gnt.cluster.local's run_here (what the master's Ansible worker
    does for a module task, instead of starting the client): the same server, environment, directory, umask, output and exit
    code as the client started by its launcher."""
    monkeypatch.setattr(modexec, "RUN_DIR", str(servers.path))
    payload = PAYLOAD % ""
    client = _run(SCRIPT, payload, tmp_path, GNT_TEST_VAR="here", GNT_TEST_RC="3")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GNT_TEST_VAR", "here")
    monkeypatch.setenv("GNT_TEST_RC", "3")
    result = run_here(modexec, payload.encode(), sys.executable)
    assert result is not None
    rc, out, err = result
    assert (rc, err.decode()) == (client.returncode, client.stderr) == (3, "to stderr\n")
    ours, theirs = _fields(out.decode()), _fields(client.stdout)
    for key in ("cwd", "var", "umask", "main", "argv", "ppid"):
        assert ours[key] == theirs[key], key
    assert ours["ppid"] in servers.pids() and len(servers.pids()) == 1


def test_a_request_from_this_process_reads_both_streams_whole(servers, monkeypatch):
    monkeypatch.setattr(modexec, "RUN_DIR", str(servers.path))
    payload = ("import sys\nfor i in range(64):\n    sys.stdout.write('o' * 9000)\n"
               "    sys.stdout.flush()\n    sys.stderr.write('e' * 9000)\n    sys.stderr.flush()\n")
    assert run_here(modexec, payload.encode(), sys.executable) == \
        (0, b"o" * 9000 * 64, b"e" * 9000 * 64)


def test_a_request_for_another_interpreter_runs_nothing_here(servers, tmp_path, monkeypatch):
    """Another interpreter's server imports another Python's code: the caller must start
    that interpreter's client (None: nothing ran, no server started)."""
    monkeypatch.setattr(modexec, "RUN_DIR", str(servers.path))
    marker = tmp_path / "ran"
    payload = f"open({str(marker)!r}, 'w').close()\n".encode()
    other = shutil.which("python3", path="/usr/bin")
    assert other and os.path.realpath(other) != os.path.realpath(sys.executable)
    assert run_here(modexec, payload, other) is None
    assert not marker.exists() and not servers.pids()


def test_a_launcher_is_recognised_by_its_interpreter_and_program(tmp_path):
    launcher = tmp_path / "launcher"
    launcher.write_text(modexec.launcher_script(sys.executable, str(SCRIPT), "any comment"))
    assert modexec.is_launcher(str(launcher), sys.executable, str(SCRIPT))
    assert not modexec.is_launcher(str(launcher), "/usr/bin/python3", str(SCRIPT))
    assert not modexec.is_launcher(str(launcher), sys.executable, str(tmp_path / "modexec.py"))
    assert not modexec.is_launcher(str(tmp_path / "missing"), sys.executable, str(SCRIPT))
    launcher.write_text(launcher.read_text() + "echo more\n")
    assert not modexec.is_launcher(str(launcher), sys.executable, str(SCRIPT))
