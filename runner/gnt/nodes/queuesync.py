"""Copies of the job queue on the master candidates, kept by the master daemon.

Every online master candidate holds a queue directory (0700) like the master's, so the node
that takes over the master role (``gnt-cluster master-failover``) continues with the same drain
flag, job ids after the last one handed out, and the jobs of the current queue.

What reaches the candidates, and when:

- the drain flag: pushed by ``gnt-cluster queue drain|undrain`` to every online candidate before
  the command returns (:meth:`QueueSync.push_drain`; a candidate that cannot be reached is
  named in the command's output and logged, the flag is set on the master all the same);
- the job serial and the files of the current queue (``job-<id>``): pushed in the background
  (:meth:`QueueSync.run`), within :data:`SYNC_INTERVAL` of a change and at once after a
  submission wakes the thread, so a submission never waits for a node. A job archived on the
  master is archived on the candidates in the same push. The archive itself is not pushed to
  a new candidate (only jobs archived after it became one reach it);
- a node that becomes a candidate (node add, promotion, a failed node back) gets the whole
  current queue in the next round, its directory made then.

A candidate's copy is applied by one constant Python program on the node (:data:`APPLY_PROGRAM`)
given a JSON request (data, never code): file by file (temp file + rename, 0600), the serial
only ever raised, stale job files of the current queue removed. One call per node and round,
all nodes at once, relayed to the node's warm interpreter over the SSH control master like the
config pushes (:mod:`gnt.nodes.relay`: no SSH session, shell or new interpreter on the node, no
``ssh`` process here; the request is a string literal in the script, read by ``json.loads``),
else as an SSH command (``python3 -I -S -c``) reading the request from stdin.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shlex
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gnt.config.store import ConfigStore
from gnt.nodes import relay, ssh
from gnt.nodes.nodevars import ssh_target

LOG = logging.getLogger("gnt.nodes.queuesync")
SYNC_INTERVAL = 2.0      # seconds between background rounds (a submission wakes it at once)
BATCH_DELAY = 0.2        # after a wake-up, gather further submissions this long
PUSH_TIMEOUT = 30.0
JOB_NAME_RE = re.compile(r"^job-(\d+)$")
ARCHIVE_BUCKET = 10000   # as gnt.jobs.queue (archive/<id // 10000>/job-<id>)

# Run on a candidate (standard library only); its only input is the JSON request:
# {"dir", "drain": bool|null, "serial": int|null, "jobs": {name: text}, "archive": {name: text},
# "keep": [names]|null}, read by the line :func:`apply_command` or :func:`apply_script` puts
# first. Temp names (".job-N.push", ".serial.push") are those the queue removes when it loads,
# should a push be cut short.
APPLY_PROGRAM = r"""
import json, os, re, sys
os.umask(0o077)
NAME = re.compile(r"^job-(\d+)$")
def mkdir(path):
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
def put(path, text):
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".push")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)
def job_id(name):
    match = NAME.match(name)
    if not match:
        sys.exit("bad job file name %r" % name)
    return int(match.group(1))
q = req["dir"]
mkdir(q)
mkdir(os.path.join(q, "archive"))
for name, text in sorted(req.get("jobs", {}).items()):
    job_id(name)
    put(os.path.join(q, name), text)
for name, text in sorted(req.get("archive", {}).items()):
    bucket = os.path.join(q, "archive", str(job_id(name) // BUCKET))
    mkdir(bucket)
    put(os.path.join(bucket, name), text)
    try:
        os.unlink(os.path.join(q, name))
    except FileNotFoundError:
        pass
if req.get("keep") is not None:
    keep = set(req["keep"])
    for name in os.listdir(q):
        if NAME.match(name) and name not in keep:
            os.unlink(os.path.join(q, name))
serial_file = os.path.join(q, "serial")
try:
    with open(serial_file) as inp:
        serial = int(inp.read().strip() or 0)
except (OSError, ValueError):
    serial = 0
if req.get("serial") is not None and (int(req["serial"]) > serial
                                      or not os.path.exists(serial_file)):
    serial = max(serial, int(req["serial"]))
    put(serial_file, "%d\n" % serial)
drain = os.path.join(q, "drain")
if req.get("drain") is True:
    os.close(os.open(drain, os.O_WRONLY | os.O_CREAT, 0o600))
elif req.get("drain") is False:
    try:
        os.unlink(drain)
    except FileNotFoundError:
        pass
print(json.dumps({"serial": serial, "drained": os.path.exists(drain)}))
""".replace("BUCKET", str(ARCHIVE_BUCKET))


@functools.cache
def apply_command() -> str:
    """The shell command a candidate runs over SSH to apply a request read from stdin
    (``-S``: no site, a faster start under TCG)."""
    program = "import json, sys\nreq = json.load(sys.stdin)\n" + APPLY_PROGRAM
    return f"python3 -I -S -c {shlex.quote(program)}"


def apply_script(request: dict[str, Any]) -> bytes:
    """The program for the node's warm interpreter (a relayed call), applying ``request``:
    the request's JSON is a string literal in it, parsed by ``json.loads`` (data, never code)."""
    text = json.dumps(request, sort_keys=True)
    return f"import json\nreq = json.loads({text!r})\n{APPLY_PROGRAM}".encode()


def push(target: ssh.Target, request: dict[str, Any], timeout: float) -> ssh.Result:
    """Apply ``request`` on candidate ``target``: relayed to its warm interpreter when the
    forward and the server are there, else over SSH (the request on stdin)."""
    return relay.run(target, apply_command(), apply_script(request), timeout,
                     stdin=lambda: json.dumps(request).encode())


def read_serial(queue_dir: Path) -> int:
    """The serial file's number (0 when missing or unreadable)."""
    try:
        return int((queue_dir / "serial").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


FileStamp = tuple[int, int, int]   # inode, mtime_ns, size: changes with every rewrite


def current_files(queue_dir: Path) -> dict[str, FileStamp]:
    """The job files of the current queue and their stamps."""
    found: dict[str, FileStamp] = {}
    try:
        entries = list(os.scandir(queue_dir))
    except FileNotFoundError:
        return found
    for entry in entries:
        if JOB_NAME_RE.match(entry.name):
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            found[entry.name] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return found


@dataclass
class NodeCopy:
    """What one candidate's queue holds, as far as this master knows."""

    drained: bool | None = None
    serial: int = 0
    files: dict[str, FileStamp] = field(default_factory=dict)


class QueueSync:
    """Keeps the queue copies of the online master candidates (see the module doc).

    Thread-safe: one push round at a time (:attr:`_lock`, taken before the config store's
    lock, never under it).
    """

    def __init__(self, store: ConfigStore, queue_dir: Path,
                 interval: float = SYNC_INTERVAL) -> None:
        self.store = store
        self.dir = queue_dir
        self.interval = interval
        self.copies: dict[str, NodeCopy] = {}     # node name -> what it holds
        self.failures: dict[str, str] = {}         # node name -> why the last push failed
        self._lock = threading.Lock()
        self._failures_lock = threading.Lock()    # guards changes of :attr:`failures`
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the background thread -----------------------------------------------------------
    def start(self) -> None:
        """Start the background rounds (the first one at once: new master, new copies)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._wake.set()
        self._thread = threading.Thread(target=self.run, name="queue-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """End the background rounds (waits for a round under way, up to ``timeout``)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self, *_args: Any) -> None:
        """Ask for a round soon (cheap: called on every job submission)."""
        self._wake.set()

    def run(self) -> None:
        """Rounds until :meth:`stop`: after a wake-up (batched) or every :attr:`interval`."""
        while not self._stop.is_set():
            if self._wake.wait(self.interval):
                self._stop.wait(BATCH_DELAY)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.sync()
            except Exception:   # noqa: BLE001 - the thread must survive; next round retries
                LOG.exception("job queue copy round failed")

    # -- rounds ----------------------------------------------------------------------------
    def _targets(self) -> dict[str, ssh.Target]:
        """The online master candidates other than the master, by name."""
        with self.store.lock:
            master = self.store.data["cluster"]["master_node"]
            return {node["name"]: ssh_target(self.store, node)
                    for node in self.store.data["nodes"].values()
                    if node["master_candidate"] and not node["offline"]
                    and node["uuid"] != master}

    def _request(self, copy: NodeCopy | None, drained: bool, serial: int,
                 files: dict[str, FileStamp]) -> tuple[dict[str, Any], dict[str, FileStamp]]:
        """What ``copy`` lacks, as a request (empty when nothing), and the stamps it then has."""
        known = copy.files if copy is not None else {}
        request: dict[str, Any] = {}
        sent: dict[str, FileStamp] = {}
        jobs: dict[str, str] = {}
        for name, stamp in sorted(files.items()):
            if known.get(name) == stamp:
                sent[name] = stamp
                continue
            try:
                jobs[name] = (self.dir / name).read_text()
            except (FileNotFoundError, UnicodeDecodeError):
                continue            # archived meanwhile (next round) or not a job file
            sent[name] = stamp
        gone = sorted(set(known) - set(files))
        archive: dict[str, str] = {}
        for name in gone:
            match = JOB_NAME_RE.match(name)
            path = self.dir / "archive" / str(int(match.group(1)) // ARCHIVE_BUCKET) / name \
                if match else None
            try:
                if path is not None:
                    archive[name] = path.read_text()
            except (FileNotFoundError, UnicodeDecodeError):
                pass                # gone for good: "keep" removes it
        if jobs:
            request["jobs"] = jobs
        if archive:
            request["archive"] = archive
        if copy is None or gone:
            request["keep"] = sorted(files)
        if copy is None or copy.drained != drained:
            request["drain"] = drained
        if copy is None or serial > copy.serial:
            request["serial"] = serial
        return request, sent

    def sync(self, drain_only: bool = False, timeout: float = PUSH_TIMEOUT) -> list[str]:
        """One round: bring every online candidate's copy up to date; returns one warning per
        candidate that could not be updated (also logged, once per new reason).

        ``drain_only``: push the drain flag (and serial) only, not the job files (quick).
        """
        with self._lock:
            targets = self._targets()
            drained = (self.dir / "drain").exists()
            files = {} if drain_only else current_files(self.dir)
            serial = read_serial(self.dir)
            if files:
                serial = max(serial, *(int(n[4:]) for n in files))
            requests: dict[str, tuple[dict[str, Any], dict[str, FileStamp]]] = {}
            for name in targets:
                copy = self.copies.get(name)
                if drain_only:
                    request: dict[str, Any] = {"drain": drained, "serial": serial}
                    sent = copy.files if copy is not None else {}
                else:
                    request, sent = self._request(copy, drained, serial, files)
                if request:
                    request["dir"] = str(self.dir)
                    requests[name] = (request, sent)
            results = ssh.map_parallel(requests, lambda name: push(
                targets[name], requests[name][0], timeout))
            warnings = []
            for name, result in sorted(results.items()):
                if result.ok:
                    old = self.copies.get(name)
                    if old is not None or not drain_only:   # else: all of it next round
                        self.copies[name] = NodeCopy(
                            drained, max(serial, old.serial if old else 0), requests[name][1])
                    with self._failures_lock:
                        healed = self.failures.pop(name, None) is not None
                    if healed:
                        LOG.info("job queue copy on node %s up to date again", name)
                    continue
                self.copies.pop(name, None)     # unknown now: everything again next time
                reason = result.reason()
                warnings.append(f"Could not update the job queue on master candidate {name}:"
                                f" {reason}")
                if self.failures.get(name) != reason:
                    LOG.warning(warnings[-1])
                with self._failures_lock:
                    self.failures[name] = reason
            for name in set(self.copies) - set(targets):
                del self.copies[name]           # no longer a candidate (or offline)
            with self._failures_lock:
                for name in set(self.failures) - set(targets):
                    del self.failures[name]
            return warnings

    def unsynced(self) -> dict[str, str]:
        """Candidates whose copy is not up to date: name -> why (a copy, by name)."""
        with self._failures_lock:
            return dict(sorted(self.failures.items()))

    def push_drain(self) -> list[str]:
        """Push the master's drain flag (and serial) to every online candidate now; returns
        one warning per candidate that did not get it."""
        return self.sync(drain_only=True, timeout=15.0)
