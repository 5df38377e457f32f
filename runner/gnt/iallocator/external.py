"""Run an external allocator program (Ganeti's protocol): ``prog [ARGS] FILE`` with the
JSON input in FILE, the JSON answer on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gnt.core import settings
from gnt.core.errors import ECODE_ENVIRON, ECODE_FAULT, ECODE_INVAL, OpPrereqError

STDERR_TAIL = 800


def search_path() -> list[Path]:
    """Directories searched for an allocator given by name, in order."""
    return [Path("/usr/lib/ganeti/iallocators"), Path("/usr/local/lib/ganeti/iallocators"),
            Path("/usr/lib/gnt/iallocators"), settings.paths().root / "usr/lib/gnt/iallocators"]


def find_allocator(name: str) -> Path:
    """The executable for ``name``: an absolute path, or a plain name looked up in
    :func:`search_path`. Raises :class:`OpPrereqError` (ECODE_INVAL) if there is none."""
    if not name or name.strip() != name:
        raise OpPrereqError(f"Invalid iallocator name {name!r}", ECODE_INVAL)
    if os.path.isabs(name):
        path = Path(name)
        if not path.is_file():
            raise OpPrereqError(f"Iallocator '{name}' not found (no such file)", ECODE_INVAL)
        if not os.access(path, os.X_OK):
            raise OpPrereqError(f"Iallocator '{name}' is not executable", ECODE_INVAL)
        return path
    if "/" in name or name in (".", ".."):
        raise OpPrereqError(f"Invalid iallocator name '{name}': give a plain name or an"
                            " absolute path", ECODE_INVAL)
    dirs = search_path()
    for directory in dirs:
        path = directory / name
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise OpPrereqError(f"Iallocator '{name}' not found (searched"
                        f" {', '.join(str(d) for d in dirs)})", ECODE_INVAL)


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= STDERR_TAIL else "..." + text[-STDERR_TAIL:]


def run_external(name: str, data: Mapping[str, Any], timeout: float = 60,
                 args: Sequence[str] = ()) -> Any:
    """Run allocator ``name`` on ``data``; returns its decoded JSON answer (unchecked).

    Raises :class:`OpPrereqError` when the program is missing, cannot start, times out,
    exits non-zero (with the tail of its stderr) or prints something that is not JSON.
    """
    path = find_allocator(name)
    fd, tmp = tempfile.mkstemp(prefix="gnt-ialloc-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        try:
            proc = subprocess.run([str(path), *args, tmp], capture_output=True, text=True,
                                  timeout=timeout, check=False, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as err:
            raise OpPrereqError(f"Iallocator '{name}' ({path}) did not answer within"
                                f" {timeout:g} s", ECODE_ENVIRON) from err
        except OSError as err:
            raise OpPrereqError(f"Iallocator '{name}' ({path}) could not be started:"
                                f" {err.strerror or err}", ECODE_ENVIRON) from err
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    if proc.returncode != 0:
        how = (f"was killed by signal {-proc.returncode}" if proc.returncode < 0
               else f"exited with code {proc.returncode}")
        stderr = _tail(proc.stderr) or "(no stderr)"
        raise OpPrereqError(f"Iallocator '{name}' ({path}) {how}: {stderr}", ECODE_ENVIRON)
    try:
        return json.loads(proc.stdout)
    except ValueError as err:
        shown = proc.stdout.strip()[:200] or "(empty output)"
        raise OpPrereqError(f"Iallocator '{name}' ({path}) did not answer JSON ({err}):"
                            f" {shown}", ECODE_FAULT) from err
