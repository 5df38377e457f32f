# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""Streams of disk data: the data path of instance export and import.

A transfer is a chain of stages, each reading what the one before it writes:

- a source: a local file (:class:`FileIn`) or a process writing the data to stdout (an OS
  export script, ``ssh NODE dd if=DUMP``);
- optional filters: processes (a compressor or decompressor);
- a sink: a local file (:class:`FileOut`), an instance disk written in place
  (:class:`DiskOut`, sparse, never past the disk's end), or a process reading stdin (an OS
  import script, ``ssh NODE dd of=DUMP``).

Neighbouring processes are joined by kernel pipes enlarged to 1 MiB (the default 64 KiB
pipe costs a context switch per 64 KiB: on small VMs that halves throughput); a file next to
a process is handed to it directly as stdin/stdout, so an uncompressed local export is the
OS script writing straight into the dump file. Nothing is held in memory or in a temporary
file: data moves as a stream.

:func:`run_chain` runs a chain and raises :class:`StreamError` naming the stage that failed
first and why (exit code or signal, the tail of its error output). A stage killed by SIGPIPE
is only reported when nothing else failed: it is the echo of a failure further down.

No Ansible import. The compressions' table is :mod:`compressions`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import shlex
import signal
import subprocess
import tempfile
import threading
import time

from ansible_collections.gnt.cluster.plugins.module_utils.compressions import COMPRESSION_TOOLS

CHUNK = 1024 * 1024
PIPE_SIZE = 1024 * 1024
_ZERO = bytes(CHUNK)
ERROR_TAIL_LINES = 8

# Ciphers tried first for bulk data over SSH (AES-GCM is fastest with AES-NI).
FAST_CIPHERS = "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com"


class StreamError(Exception):
    """A transfer that failed; the message names the stage and the cause."""


def compression_argv(method, decompress=False):
    """The compressor (or decompressor) command of ``method``; ``None`` for ``none``."""
    if method not in COMPRESSION_TOOLS:
        raise StreamError("unknown compression %r (valid: %s)"
                          % (method, ", ".join(sorted(COMPRESSION_TOOLS))))
    tools = COMPRESSION_TOOLS[method]
    if tools is None:
        return None
    return list(tools[1] if decompress else tools[0])


class _Stage:
    """What every stage has: a label for messages and the descriptors it still holds."""

    label = ""
    fds = ()
    read_end = None

    def release(self):
        """Close the descriptors this stage still holds in this process."""
        _close_all(list(self.fds) + [self.read_end])
        self.fds, self.read_end = [], None


class Proc(_Stage):
    """A process stage: ``argv`` run with ``env``/``cwd``; stderr kept in ``stderr_path``
    (a log file that stays) or in a temporary file (read for the error message)."""

    def __init__(self, label, argv, env=None, cwd=None, stderr_path=None):
        self.label, self.argv, self.env, self.cwd = label, list(argv), env, cwd
        self.stderr_path = stderr_path
        self.proc = None
        self.stderr = None
        self.stdout = None
        self.killed_here = False

    def start(self, stdin, stdout):
        """Start the process on the given file descriptors."""
        if self.stderr_path:
            self.stderr = open(self.stderr_path, "a+b")
        else:
            self.stderr = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(self.argv, stdin=stdin, stdout=stdout,
                                         stderr=self.stderr, env=self.env, cwd=self.cwd,
                                         close_fds=True)
        except OSError as err:
            raise StreamError("%s: cannot run %s: %s" % (self.label, self.argv[0],
                                                         err.strerror or err)) from err

    def error_tail(self):
        """The last lines of the process's error output."""
        if self.stderr is None:
            return []
        try:
            self.stderr.flush()
            self.stderr.seek(0, os.SEEK_END)
            size = self.stderr.tell()
            self.stderr.seek(max(0, size - 16384))
            text = self.stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return []
        return [line for line in text.splitlines() if line.strip()][-ERROR_TAIL_LINES:]

    def close(self):
        """Release the files kept for error output and captured output."""
        for handle in (self.stderr, self.stdout):
            if handle is not None:
                handle.close()


class FileIn(_Stage):
    """A source: the local file ``path``."""

    def __init__(self, label, path):
        self.label, self.path = label, path


class FileOut(_Stage):
    """A sink: the local file ``path`` (created or truncated, fsynced at the end)."""

    def __init__(self, label, path, mode=0o600):
        self.label, self.path, self.mode = label, path, mode


class DiskOut(_Stage):
    """A sink: an existing disk (file or block device) written in place from offset 0.

    All-zero chunks are skipped on a regular file, which is emptied first (a sparse
    result); a stream longer than the disk is an error.
    """

    def __init__(self, label, path):
        self.label, self.path = label, path
        self.written = 0


def _pipe():
    read_fd, write_fd = os.pipe()
    try:
        fcntl.fcntl(write_fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)
    except OSError:
        pass    # the default size still works, just slower
    return read_fd, write_fd


def _describe_exit(rc):
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = "signal %d" % -rc
        return "was killed by %s" % name
    return "failed with exit code %d" % rc


def _broken_pipe(rc):
    return rc in (-signal.SIGPIPE, 128 + signal.SIGPIPE)


def _open_out(path, mode):
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)


def _write_disk(sink, read_fd):
    """Copy everything from ``read_fd`` onto the disk of ``sink``; return bytes received."""
    fd = os.open(sink.path, os.O_WRONLY)
    try:
        regular = os.path.isfile(sink.path)
        size = os.fstat(fd).st_size if regular else _device_size(fd)
        if regular:
            os.ftruncate(fd, 0)
            os.ftruncate(fd, size)
        offset = 0
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while True:
            got = _read_full(read_fd, view)
            if not got:
                break
            if offset + got > size:
                raise StreamError("%s: the stream is larger than the disk %s (%d bytes)"
                                  % (sink.label, sink.path, size))
            data = view[:got]
            if not regular or data != _ZERO[:got]:
                os.pwrite(fd, data, offset)
            offset += got
        os.fsync(fd)
        sink.written = offset
        return offset
    finally:
        os.close(fd)


def _device_size(fd):
    return os.lseek(fd, 0, os.SEEK_END)


def _read_full(fd, view):
    """Read until ``view`` is full or EOF; return the byte count."""
    total = 0
    while total < len(view):
        try:
            got = os.readv(fd, [view[total:]])
        except OSError as err:
            if err.errno == errno.EINTR:
                continue
            raise
        if not got:
            break
        total += got
    return total


def _copy_file(src, dst, mode):
    """FileIn straight to FileOut: the kernel copies (copy_file_range/sendfile)."""
    with open(src, "rb") as fin:
        fd = _open_out(dst, mode)
        try:
            remaining = os.fstat(fin.fileno()).st_size
            offset = 0
            while remaining > 0:
                try:
                    done = os.copy_file_range(fin.fileno(), fd, min(remaining, 1 << 30))
                except (AttributeError, OSError):
                    done = os.sendfile(fd, fin.fileno(), offset, min(remaining, 1 << 30))
                if not done:
                    break
                offset += done
                remaining -= done
            os.fsync(fd)
            return offset
        finally:
            os.close(fd)


def run_chain(stages, timeout=3600, clock=time.monotonic):
    """Run ``stages`` (source, filters..., sink) joined stdout -> stdin; wait for all.

    Returns ``{"bytes": N or None, "output": TEXT, "duration_s": S}``: ``bytes`` is what a
    local file/disk sink received, ``output`` what a sink process printed. Raises
    :class:`StreamError` naming the failing stage; on a failure or after ``timeout`` seconds
    every process still running is killed.
    """
    if len(stages) < 2:
        raise StreamError("a transfer needs a source and a sink")
    started = clock()
    first, last = stages[0], stages[-1]
    for stage in stages[1:-1]:
        if not isinstance(stage, Proc):
            raise StreamError("%s: only processes can sit between source and sink"
                              % stage.label)
    if isinstance(first, (FileOut, DiskOut)) or isinstance(last, FileIn):
        raise StreamError("a transfer reads from its first stage and writes to its last")
    if isinstance(first, FileIn) and not os.path.isfile(first.path):
        raise StreamError("%s: %s is missing or not a regular file" % (first.label, first.path))
    if len(stages) == 2 and isinstance(first, FileIn) and isinstance(last, FileOut):
        count = _copy_file(first.path, last.path, last.mode)
        return {"bytes": count, "output": "", "duration_s": round(clock() - started, 3)}
    procs = [stage for stage in stages if isinstance(stage, Proc)]
    writer = None
    output = None
    try:
        try:
            _start_all(stages)
            if isinstance(last, DiskOut):
                writer = _DiskWriter(last, stages[-2].read_end)
                stages[-2].read_end = None      # the writer owns and closes it
                if procs:
                    writer.start()
                else:
                    writer.run()
            _wait_all(procs, writer, timeout - (clock() - started), clock)
            if isinstance(last, FileOut):
                _fsync_path(last.path)
            if isinstance(last, Proc) and last.stdout is not None:
                last.stdout.seek(0)
                output = last.stdout.read().decode("utf-8", "replace")
        finally:
            for stage in stages:
                stage.release()
            _kill_all(procs)
            for proc in procs:
                if proc.proc is not None:
                    proc.proc.wait()
            if writer is not None and writer.is_alive():
                writer.join()    # its pipe is closed now: it ends at once
        _raise_first_failure(procs, writer)
    finally:
        for proc in procs:
            proc.close()
    count = None
    if isinstance(last, DiskOut):
        count = last.written
    elif isinstance(last, FileOut):
        count = os.stat(last.path).st_size
    return {"bytes": count, "output": (output or "").strip(),
            "duration_s": round(clock() - started, 3)}


def _start_all(stages):
    """Open files and pipes and start the processes, left to right. Each stage keeps the
    descriptors it must release in ``fds``; ``read_end`` is what the next stage reads."""
    for stage in stages:
        stage.fds, stage.read_end = [], None
    previous = stages[0]
    if isinstance(previous, FileIn):
        previous.read_end = os.open(previous.path, os.O_RDONLY)
    for index, stage in enumerate(stages):
        if not isinstance(stage, Proc):
            previous = stage
            continue
        after = stages[index + 1] if index + 1 < len(stages) else None
        if isinstance(after, FileOut):
            out = _open_out(after.path, after.mode)
            stage.fds.append(out)
        elif after is None:
            stage.stdout = tempfile.TemporaryFile()
            out = stage.stdout.fileno()
        else:
            stage.read_end, out = _pipe()
            stage.fds.append(out)
        stdin = previous.read_end if index else subprocess.DEVNULL
        stage.start(stdin if stdin is not None else subprocess.DEVNULL, out)
        # The parent's copies of the child's ends go now: EOF and EPIPE must reach them.
        _close_all(stage.fds)
        stage.fds = []
        if index and previous.read_end is not None:
            _close_all([previous.read_end])
            previous.read_end = None
        previous = stage


class _DiskWriter(threading.Thread):
    def __init__(self, sink, read_fd):
        threading.Thread.__init__(self, name="disk-writer")
        self.daemon = True
        self.sink, self.read_fd, self.error = sink, read_fd, None

    def run(self):
        try:
            _write_disk(self.sink, self.read_fd)
        except (StreamError, OSError) as err:
            self.error = err
        finally:
            try:
                os.close(self.read_fd)
            except OSError:
                pass


def _close_all(fds):
    for fd in fds:
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


def _fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _wait_all(procs, writer, remaining, clock, poll=0.05):
    """Wait until every process has ended (and the disk writer with them). The first real
    failure of any stage kills the others at once (they would wait for a dead neighbour);
    after the time limit everything is killed."""
    deadline = clock() + max(remaining, 0.001)
    running = [proc for proc in procs if proc.proc is not None]
    while running:
        for proc in list(running):
            rc = proc.proc.poll()
            if rc is None:
                continue
            running.remove(proc)
            if rc != 0 and not _broken_pipe(rc):
                _kill_all(procs)
        if writer is not None and writer.error is not None:
            _kill_all(procs)
        if running and clock() > deadline:
            _kill_all(procs)
            raise StreamError("%s: not done within the time limit; the transfer was stopped"
                              % running[0].label)
        if running:
            time.sleep(poll)
    if writer is not None and writer.is_alive():
        writer.join(max(deadline - clock(), 0.001))
        if writer.is_alive():
            _kill_all(procs)
            raise StreamError("%s: not done within the time limit" % writer.sink.label)


def _kill_all(procs):
    """Kill the processes still running; they count as echoes of another failure."""
    for proc in procs:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.killed_here = True
            proc.proc.kill()


def _raise_first_failure(procs, writer):
    failures, echoes = [], []
    for proc in procs:
        rc = proc.proc.returncode
        if rc == 0:
            continue
        tail = proc.error_tail()
        message = "%s %s" % (proc.label, _describe_exit(rc))
        if tail:
            message += ": " + " | ".join(tail)
        if _broken_pipe(rc) or proc.killed_here:
            echoes.append(message)
        else:
            failures.append(message)
    if writer is not None and writer.error is not None:
        error = writer.error
        failures.append(str(error) if isinstance(error, StreamError)
                        else "%s: %s" % (writer.sink.label, error))
    problems = failures or echoes
    if problems:
        raise StreamError("; ".join(problems))


def ssh_argv(target, remote_command):
    """``ssh`` running ``remote_command`` on ``target`` (address, port, user, ssh_args) for
    bulk data: batch mode, no compression (the stream is compressed or not on purpose),
    fast ciphers first."""
    return (["ssh", "-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15",
             "-o", "Compression=no", "-o", "ServerAliveInterval=15", "-c", FAST_CIPHERS,
             "-p", str(int(target.get("port") or 22))]
            + list(target.get("ssh_args") or [])
            + ["%s@%s" % (target.get("user") or "root", target["address"]), remote_command])


def remote_write_command(path, sparse=False):
    """Shell command on the receiving node: stdin into ``path`` (directory made, fsynced),
    then its size on stdout."""
    directory = os.path.dirname(path)
    conv = "fsync,sparse" if sparse else "fsync"
    return ("set -e; umask 077; mkdir -p %s; dd of=%s bs=1M iflag=fullblock conv=%s"
            " status=none; stat -c %%s %s"
            % (shlex.quote(directory), shlex.quote(path), conv, shlex.quote(path)))


def remote_read_command(path):
    """Shell command on the sending node: the file ``path`` to stdout (clear error if
    missing)."""
    quoted = shlex.quote(path)
    return ("test -f %s || { echo \"no such file: %s\" >&2; exit 2; }; exec dd if=%s bs=1M"
            " status=none" % (quoted, path.replace('"', ""), quoted))
