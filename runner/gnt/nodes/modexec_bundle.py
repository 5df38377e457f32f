"""The warm module interpreter (:mod:`gnt.nodes.modexec`) for the nodes other than the master.

``node_prepare`` unpacks one tarball into the node's :func:`node_dir`:

- ``modexec.py``: this checkout's client, and the files its server imports from beside it
  (``modexec_server.py``, the server; ``modexec_cache.py``, its cache of compiled code);
  standard library only;
- ``python``: the launcher Ansible runs as the node's module interpreter
  (``/usr/bin/python3 -I``, importing ``modexec.py``);
- ``ansible-<version>.zip``: the controller's Ansible ``module_utils`` (what the payloads it
  builds carry), so that the node's server imports them ahead of the payloads of that version.
  Payloads of another version (the controller's Ansible was upgraded) still run, in a server
  that has not imported Ansible, until the node is prepared again.

The node's record keeps the launcher's path (``module_interpreter``); the executor uses it for
that node unless ``GNT_MODULE_INTERPRETER=fresh``. The tarball is built once per content in
the private Ansible directory.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import os
import tarfile
import zipfile
from pathlib import Path

from gnt.core import settings
from gnt.nodes.executor import private_dir
from gnt.nodes.modexec import BESIDE, launcher_script

#: The node's Python, as for the modules run in a fresh interpreter.
NODE_PYTHON = "/usr/bin/python3"
LAUNCHER = "python"
MODEXEC = Path(__file__).with_name("modexec.py")
#: modexec.py and what its server imports from beside it, installed side by side.
MODEXEC_FILES = (MODEXEC, *(MODEXEC.with_name(name) for name in BESIDE))


def node_dir(paths: settings.Paths | None = None) -> Path:
    """Where a node keeps the files of its warm module interpreter (root's, not writable by
    others: under the node's data directory)."""
    return (paths or settings.paths()).data_dir / "modexec"


def node_interpreter(paths: settings.Paths | None = None) -> str:
    """The module interpreter of a node that has the files (the launcher's path)."""
    return str(node_dir(paths) / LAUNCHER)


def _ansible() -> tuple[str, Path]:
    """The controller's Ansible version and its ``module_utils`` directory."""
    from ansible.release import __version__

    spec = importlib.util.find_spec("ansible.module_utils")
    if spec is None or not spec.origin:
        raise RuntimeError("ansible.module_utils is not importable")
    return __version__, Path(spec.origin).parent


def _sources(utils: Path) -> list[Path]:
    return sorted(path for path in utils.rglob("*.py") if "__pycache__" not in path.parts)


@functools.lru_cache(maxsize=2)
def _utils_zip(version: str, utils: Path, files: tuple[Path, ...]) -> bytes:
    """A zip of ``module_utils`` under ``ansible/``, whose package says its version (kept per
    process: it is the same for every cluster root; zipping it costs ~0.2 s)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ansible/__init__.py",
                         f'"""Ansible {version}: module_utils only, for gnt\'s warm module'
                         f' interpreter."""\n__version__ = "{version}"\n')
        for path in files:
            archive.write(path, "ansible/module_utils/" + path.relative_to(utils).as_posix())
    return buffer.getvalue()


def _add(archive: tarfile.TarFile, name: str, data: bytes, mode: int, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, mtime
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    archive.addfile(info, io.BytesIO(data))


def bundle(paths: settings.Paths | None = None) -> Path:
    """The tarball for :func:`node_dir` (written when missing); its content decides its name."""
    paths = paths or settings.paths()
    version, utils = _ansible()
    files = _sources(utils)
    launcher = launcher_script(NODE_PYTHON, str(node_dir(paths) / "modexec.py"),
                               "gnt: Ansible's module interpreter on this node (warm, see"
                               " modexec.py)")
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in MODEXEC_FILES)
                            + launcher.encode() + version.encode())
    for path in files:
        info = path.stat()
        digest.update(f"{path}:{info.st_size}:{info.st_mtime_ns}".encode())
    key = digest.hexdigest()[:16]
    target = private_dir(paths.ansible_dir) / f"modexec-{key}.tar"
    if not target.exists():
        temp = target.with_name(f".{target.name}.{os.getpid()}")
        temp.write_bytes(_tarball(key, launcher, version, utils, tuple(files)))
        os.replace(temp, target)
    return target


@functools.lru_cache(maxsize=4)
def _tarball(key: str, launcher: str, version: str, utils: Path, files: tuple[Path, ...]) -> bytes:
    """The tarball's bytes (``key`` names the content; kept per process)."""
    del key  # part of the cache key only
    mtime = int(max(path.stat().st_mtime for path in [*MODEXEC_FILES, *files]))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for path in MODEXEC_FILES:
            _add(archive, path.name, path.read_bytes(), 0o644, mtime)
        _add(archive, LAUNCHER, launcher.encode(), 0o755, mtime)
        _add(archive, f"ansible-{version}.zip", _utils_zip(version, utils, files), 0o644,
             mtime)
    return buffer.getvalue()


def prepare_vars(paths: settings.Paths | None = None) -> dict[str, str]:
    """``node_prepare``'s ``gnt_modexec``: it installs the files when given, and runs its
    later modules through them unless ``GNT_MODULE_INTERPRETER=fresh``."""
    found = {"dir": str(node_dir(paths)), "bundle": str(bundle(paths))}
    if settings.module_interpreter() != "fresh":
        found["interpreter"] = node_interpreter(paths)
    return found
