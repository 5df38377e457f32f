"""The ansible-core versions the collection is sanity-tested on, and where they live.

``meta/runtime.yml`` claims ``requires_ansible: ">=2.16.0"``; every ansible-core release line
from 2.16 on that runs on Python 3.11 is tested: 2.19 is the project venv's own (pinned in
pyproject.toml), the older lines are pinned here (the newest patch release of each) and
installed from PyPI into venvs of their own under a root-owned 0700 cache directory
(``GNT_ANSIBLE_TEST_CACHE``, default ``/var/cache/gnt/ansible-test``), never under /tmp.
``scripts/setup.sh --test`` installs them (``python tests/sanity/ansible_versions.py install``);
a test finding one missing installs it itself.

Each version also gets a persistent ``home`` there: ansible-test keeps the venvs of its sanity
tests' own requirements under ``$HOME/.ansible/test``, keyed by the requirements' hash, so a
rerun reuses them instead of installing pylint, yamllint ... again.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

# The newest patch release of each older line, as PyPI has them (checked 2026-12-04).
PINS = {"2.16": "2.16.19", "2.17": "2.17.14", "2.18": "2.18.19"}
DEFAULT_CACHE = Path("/var/cache/gnt/ansible-test")
STANDIN = Path(__file__).with_name("get_pip_standin.py")


class UntrustedCache(Exception):
    """The cache directory is not ours alone (wrong owner or writable by others)."""


def cache_root() -> Path:
    return Path(os.environ.get("GNT_ANSIBLE_TEST_CACHE") or DEFAULT_CACHE)


def private_dir(path: Path) -> Path:
    """Create ``path`` (0700) if needed and refuse it unless this user owns it and nobody
    else can write it or its parent."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
        raise UntrustedCache(f"{path} is a symlink or not owned by uid {os.getuid()}")
    if path.parent.stat().st_mode & 0o022:
        raise UntrustedCache(f"{path.parent} is writable by group or others")
    if info.st_mode & 0o077:
        path.chmod(0o700)
    return path


def version_dir(line: str) -> Path:
    """The private directory of ansible-core ``line`` (its venv in ``venv``, HOME in ``home``)."""
    return private_dir(private_dir(cache_root()) / f"ansible-core-{PINS[line]}")


def ensure_venv(line: str) -> Path:
    """The ``bin`` directory of a venv holding exactly ansible-core ``PINS[line]``, created
    and installed from PyPI when missing (one installer at a time: a lock in the cache)."""
    base = version_dir(line)
    venv = base / "venv"
    stamp = base / "installed"
    with open(base / "lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and (venv / "bin" / "ansible-test").exists():
            return venv / "bin"
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        f"ansible-core=={PINS[line]}"], check=True, timeout=900)
        stamp.write_text(PINS[line] + "\n")
    return venv / "bin"


def home_for(line: str | None, fallback: Path) -> Path:
    """The HOME ansible-test runs with: persistent per version in the cache (``line`` None:
    the project venv's ansible-core), or ``fallback`` when the cache cannot be used."""
    try:
        if line is None:
            from ansible.release import __version__

            base = private_dir(private_dir(cache_root()) / f"ansible-core-{__version__}")
        else:
            base = version_dir(line)
        return private_dir(base / "home")
    except (OSError, UntrustedCache):
        return fallback


def pip_version(bin_dir: Path) -> str:
    """The pip version this ansible-test bootstraps into its venvs (from its own source)."""
    code = ("import pathlib; from ansible_test._internal import python_requirements as r;"
            "s = pathlib.Path(r.__file__).read_text(); m = \"pip='\"; i = s.index(m) + len(m);"
            "print(s[i:s.index(\"'\", i)])")
    return subprocess.run([str(bin_dir / "python"), "-c", code], check=True,
                          capture_output=True, text=True).stdout.strip()


def prepare_home(home: Path, bin_dir: Path) -> Path:
    """Put the pip bootstrap stand-in where ansible-test looks for its download cache."""
    cache = home / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copy(STANDIN, cache / f"get_pip_{pip_version(bin_dir).replace('.', '_')}.py")
    return home


def collection_tree(repo: Path, dest: Path) -> Path:
    """Copy the files git knows (tracked and untracked-unignored) of ``repo`` to an
    ansible_collections layout under ``dest``, as a git repo of its own (ansible-test lists
    collection files through git)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=repo,
                           check=True, capture_output=True, text=True).stdout.split("\n")
    target = dest / "ansible_collections" / "gnt" / "cluster"
    for name in filter(None, files):
        src = repo / name
        if not src.is_file():
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target / name, follow_symlinks=False)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    subprocess.run(["git", "add", "-A"], cwd=target, check=True)
    return target


def run_sanity(bin_dir: Path, target: Path, home: Path, tests: list[str] | None = None,
               paths: list[str] | None = None) -> subprocess.CompletedProcess:
    """``ansible-test sanity --python 3.11`` (only ``tests`` when given, only on ``paths``
    when given) in ``target``, one run per ``home`` at a time (a lock there: runs sharing a
    cached home would build the same requirement venvs at once)."""
    env = dict(os.environ, HOME=str(home), PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    cmd = [str(bin_dir / "ansible-test"), "sanity", "--python", "3.11", "--color", "no"]
    for name in tests or []:
        cmd += ["--test", name]
    cmd += list(paths or [])
    with open(home / ".gnt-sanity.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return subprocess.run(cmd, cwd=target, env=env, capture_output=True, text=True,
                              check=False)


def findings(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in (proc.stdout + proc.stderr).splitlines()
             if line.startswith(("ERROR", "FATAL"))]
    return "\n".join(lines) or proc.stdout[-5000:] + proc.stderr[-5000:]


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit(f"usage: {sys.argv[0]} install")
    for version in PINS:
        print(f"ansible-core {PINS[version]}: {ensure_venv(version)}")
