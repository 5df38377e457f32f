"""The old master's job queue taken over at ``gnt-cluster master-failover``.

The node becoming the master, once the old master's daemon is stopped, fetches that node's
whole queue directory (current jobs, archive, serial, drain flag) as one tar over SSH and puts
it in place of its own copy before its daemon starts. Nothing of the local copy is lost: job
files archived only here are kept, and the serial is the highest of both copies and of every
job file, so job ids never go backwards. When the old master cannot be reached the node keeps
its own copy, which the old master's daemon kept up to date (:mod:`gnt.nodes.queuesync`).
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import shlex
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gnt.core.fileutil import atomic_write, ensure_dir
from gnt.nodes import ssh
from gnt.nodes.queuesync import JOB_NAME_RE, read_serial

FETCH_TIMEOUT = 120.0
BUCKET_RE = re.compile(r"^\d+$")


@dataclass(frozen=True)
class QueueCopy:
    """What a taken-over queue holds."""

    jobs: int          # job files of the current queue
    archived: int      # job files in the archive
    serial: int        # the last job id handed out
    drained: bool


# Run on the old master as ``python3 -I -S -c`` (standard library only): a tar of the queue
# directory named by its argument (without the quarantine), base64 on stdout (the SSH layer
# carries text).
FETCH_PROGRAM = r"""
import base64, io, os, sys, tarfile
os.chdir(sys.argv[1])
buf = io.BytesIO()
def keep(member):
    return None if member.name.split("/")[1:2] == ["quarantine"] else member
with tarfile.open(fileobj=buf, mode="w") as tar:
    tar.add(".", filter=keep)
sys.stdout.write(base64.b64encode(buf.getvalue()).decode())
"""


def fetch_command(queue_dir: Path) -> str:
    """Shell command writing a tar of the queue directory (no quarantine), base64, to
    stdout."""
    return f"python3 -I -S -c {shlex.quote(FETCH_PROGRAM)} {shlex.quote(str(queue_dir))}"


def _members(blob: bytes) -> tarfile.TarFile:
    return tarfile.open(fileobj=io.BytesIO(blob), mode="r:")


def _safe_parts(name: str) -> tuple[str, ...]:
    """The path components of a tar member, refusing absolute paths and ``..``."""
    path = PurePosixPath(name)
    parts = tuple(part for part in path.parts if part not in ("", "."))
    if path.is_absolute() or ".." in parts:
        raise ValueError(f"unsafe path {name!r} in the queue copy")
    return parts


def unpack(blob: bytes, target: Path) -> None:
    """Unpack a queue tar into the (private, empty) directory ``target``: directories 0700,
    files 0600; anything but plain files and directories is refused."""
    with _members(blob) as tar:
        for member in tar.getmembers():
            parts = _safe_parts(member.name)
            if not parts:
                continue
            path = target.joinpath(*parts)
            if member.isdir():
                ensure_dir(path)
            elif member.isfile():
                ensure_dir(path.parent)
                source = tar.extractfile(member)
                if source is None:
                    raise ValueError(f"unreadable member {member.name!r} in the queue copy")
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(source, out)
            else:
                raise ValueError(f"member {member.name!r} of the queue copy is not a plain file"
                                 " or directory")


def _archived(queue_dir: Path) -> list[Path]:
    archive = queue_dir / "archive"
    if not archive.is_dir():
        return []
    return [path for bucket in archive.iterdir() if bucket.is_dir() and BUCKET_RE.match(bucket.name)
            for path in bucket.iterdir() if JOB_NAME_RE.match(path.name)]


def _current(queue_dir: Path) -> list[Path]:
    if not queue_dir.is_dir():
        return []
    return [path for path in queue_dir.iterdir() if JOB_NAME_RE.match(path.name)]


def highest_job_id(queue_dir: Path) -> int:
    """The highest job id of the serial file and of every job file (current and archived)."""
    ids = [int(path.name[4:]) for path in _current(queue_dir) + _archived(queue_dir)]
    return max([read_serial(queue_dir), *ids])


def _link(source: Path, target: Path) -> None:
    """``target`` as a hard link of ``source`` (a copy across file systems)."""
    ensure_dir(target.parent)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
        os.chmod(target, 0o600)


def merge_local(old: Path, new: Path) -> None:
    """Add to ``new`` what only ``old`` holds: archived jobs and quarantined files (linked,
    so ``old`` stays whole until the swap)."""
    for path in _archived(old):
        target = new / "archive" / path.parent.name / path.name
        if not target.exists():
            _link(path, target)
    quarantine = old / "quarantine"
    if quarantine.is_dir():
        for path in quarantine.iterdir():
            target = new / "quarantine" / path.name
            if path.is_file() and not target.exists():
                _link(path, target)


def install(blob: bytes, queue_dir: Path) -> QueueCopy:
    """Put the queue tar ``blob`` in place of ``queue_dir`` (the daemon must not run).

    Unpacked beside it first; on any error the local queue is left as it was.
    """
    parent = queue_dir.parent
    ensure_dir(parent)
    staging = Path(tempfile.mkdtemp(prefix=".queue-copy.", dir=parent))
    try:
        unpack(blob, staging)
        ensure_dir(staging / "archive")
        local_high = 0
        if queue_dir.is_dir():
            local_high = highest_job_id(queue_dir)
            merge_local(queue_dir, staging)
        serial = max(highest_job_id(staging), local_high)
        if serial > read_serial(staging):
            atomic_write(staging / "serial", f"{serial}\n".encode())
        os.chmod(staging, 0o700)
        result = QueueCopy(jobs=len(_current(staging)), archived=len(_archived(staging)),
                           serial=serial, drained=(staging / "drain").exists())
        _swap(staging, queue_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


def _swap(staging: Path, queue_dir: Path) -> None:
    """Rename ``staging`` to ``queue_dir``; the old directory is removed (put back if the
    rename fails)."""
    holder = Path(tempfile.mkdtemp(prefix=".queue-old.", dir=queue_dir.parent))
    old = holder / "queue"
    moved = False
    try:
        if queue_dir.exists():
            os.replace(queue_dir, old)
            moved = True
        os.replace(staging, queue_dir)
    except OSError:
        if moved:
            os.replace(old, queue_dir)
        shutil.rmtree(holder, ignore_errors=True)
        raise
    shutil.rmtree(holder, ignore_errors=True)


def take_over(target: ssh.Target, queue_dir: Path) -> QueueCopy:
    """Fetch ``target``'s queue (its daemon stopped) and install it here.

    Raises :class:`OSError` (fetch failed: the message says why) or :class:`ValueError` (the
    copy is unusable); the local queue is then unchanged.
    """
    result = ssh.run(target, fetch_command(queue_dir), timeout=FETCH_TIMEOUT)
    if not result.ok:
        raise OSError(f"reading its queue failed: {result.reason()}")
    try:
        blob = base64.b64decode(result.stdout.strip(), validate=True)
        return install(blob, queue_dir)
    except (binascii.Error, tarfile.TarError) as err:
        raise ValueError(f"its queue copy is unreadable: {err}") from err
