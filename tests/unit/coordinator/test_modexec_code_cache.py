"""The warm module interpreter's cache of compiled zip sources (gnt.nodes.modexec_cache
``cache_compiled_sources``): a module imported from a payload's zip is compiled once, found
again under another temporary zip path, recompiled when its source changes, and reports the
file name of the zip it came from this time. Real interpreters, real zips."""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from gnt.nodes import modexec_cache

IMPORT = """
import sys
sys.path.insert(0, {here!r})
import modexec_cache
print(modexec_cache.cache_compiled_sources({cache!r}))
sys.path.insert(0, {zip!r})
import gntmod
print(gntmod.VALUE)
print(gntmod.where.__code__.co_filename)
"""


def _zip(path: Path, value: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("gntmod.py", f"VALUE = {value}\ndef where():\n    return 1\n")
    return path


def _import(cache: Path, zip_path: Path) -> list[str]:
    code = IMPORT.format(here=os.path.dirname(modexec_cache.__file__), cache=str(cache),
                         zip=str(zip_path))
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_a_zip_module_is_compiled_once_and_found_under_another_zip_path(tmp_path):
    cache = tmp_path / "code"
    first = _zip(tmp_path / "run1" / "payload.zip", 1)
    assert _import(cache, first) == ["True", "1", f"{first}/gntmod.py"]
    entries = list(cache.iterdir())
    assert len(entries) == 1 and oct(cache.stat().st_mode & 0o777) == "0o700"
    # the entry is what the next import uses: give it other code and see it run
    entries[0].write_bytes(marshal.dumps(compile("VALUE = 7\ndef where():\n    return 1\n",
                                                 "elsewhere.py", "exec")))
    second = _zip(tmp_path / "run2" / "payload.zip", 1)
    assert _import(cache, second) == ["True", "7", f"{second}/gntmod.py"]
    # another source is another entry
    third = _zip(tmp_path / "run3" / "payload.zip", 3)
    assert _import(cache, third) == ["True", "3", f"{third}/gntmod.py"]
    assert len(list(cache.iterdir())) == 2


def test_a_cache_directory_others_can_write_is_not_used(tmp_path):
    cache = tmp_path / "code"
    cache.mkdir(mode=0o700)
    cache.chmod(0o777)
    out = _import(cache, _zip(tmp_path / "payload.zip", 5))
    assert out[:2] == ["False", "5"] and not list(cache.iterdir())
