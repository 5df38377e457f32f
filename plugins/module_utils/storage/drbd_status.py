# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""What DRBD 8.4 says about its devices: ``/proc/drbd`` and ``drbdsetup show`` parsed.

``/proc/drbd`` (8.4) starts with ``version: 8.4.11 (api:1/proto:86-101)`` and a build line,
then per configured minor a header line ``N: cs:CONN ro:ROLE/PEER ds:DISK/PEER P FLAGS``, a
counters line ``ns:N nr:N ... oos:N`` and, while a resync runs, a progress bar line with
``sync'ed: P% (LEFT/TOTAL)K`` and a ``finish: H:MM:SS speed: N (N) [want: N] K/sec`` line.
The ``key:value`` tokens are read through :data:`PROC_FIELDS`, one table for all of them.

``drbdsetup show MINOR`` prints the kernel's configuration in drbd.conf syntax (a
``resource`` with ``net``, ``_remote_host``, ``_this_host`` and ``volume`` sections);
:func:`parse_show` takes what decides whether a device matches its wanted configuration.
"""

from __future__ import absolute_import, division, print_function
from __future__ import annotations  # 2.16's boilerplate check wants the line above as is

__metaclass__ = type

import dataclasses
import re
from typing import Any

from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import StorageError


def _pair(value: str) -> tuple[str, str]:
    local, _sep, peer = value.partition("/")
    return local, peer


def _kib(value: str) -> int:
    return int(value)


# /proc/drbd token -> (status attribute, converter). Counters are KiB unless noted.
PROC_FIELDS: dict[str, tuple[str, Any]] = {
    "cs": ("connection", str),
    "ro": ("roles", _pair),           # local/peer role: Primary, Secondary, Unknown
    "st": ("roles", _pair),           # the same before 8.3 (kept for old kernels)
    "ds": ("disk_states", _pair),     # local/peer disk: UpToDate, Inconsistent, Diskless...
    "ns": ("net_sent_kib", _kib),
    "nr": ("net_received_kib", _kib),
    "dw": ("disk_written_kib", _kib),
    "dr": ("disk_read_kib", _kib),
    "al": ("activity_log_updates", int),
    "bm": ("bitmap_updates", int),
    "lo": ("local_pending", int),
    "pe": ("peer_pending", int),
    "ua": ("unacknowledged", int),
    "ap": ("application_pending", int),
    "ep": ("epochs", int),
    "wo": ("write_ordering", str),    # b barrier, f flush, d drain, n none
    "oos": ("out_of_sync_kib", _kib),
}

# Connection states in which a resync is running or about to run.
RESYNC_STATES = frozenset(["WFReportParams", "StartingSyncS", "StartingSyncT", "WFBitMapS",
                           "WFBitMapT", "WFSyncUUID", "SyncSource", "SyncTarget",
                           "PausedSyncS", "PausedSyncT"])

VERSION_RE = re.compile(r"^version: (\d+)\.(\d+)\.(\d+)\S* \(api:(\d+)/proto:([\d-]+)\)")
MINOR_RE = re.compile(r"^\s*(\d+):\s+(.*)$")
TOKEN_RE = re.compile(r"([a-z]+):(\S+)")
SYNC_RE = re.compile(r"(?:sync'ed|verified):\s*([\d.]+)%\s*\((\d+)/(\d+)\)([KM])")
FINISH_RE = re.compile(r"finish:\s*(\d+):(\d+):(\d+)\s+speed:\s*([\d,]+)")


@dataclasses.dataclass
class DrbdStatus:
    """One minor as ``/proc/drbd`` shows it, with the derived facts Ganeti uses."""

    minor: int
    connection: str = "Unconfigured"
    roles: tuple[str, str] = ("", "")
    disk_states: tuple[str, str] = ("", "")
    protocol: str = ""
    counters: dict[str, Any] = dataclasses.field(default_factory=dict)
    sync_percent: float | None = None
    sync_left_kib: int | None = None
    sync_total_kib: int | None = None
    sync_eta_seconds: int | None = None
    sync_speed_kib: int | None = None

    @property
    def configured(self) -> bool:
        return self.connection != "Unconfigured"

    @property
    def connected(self) -> bool:
        return self.connection == "Connected"

    @property
    def primary(self) -> bool:
        return self.roles[0] == "Primary"

    @property
    def diskless(self) -> bool:
        return self.disk_states[0] == "Diskless"

    @property
    def in_resync(self) -> bool:
        return self.connection in RESYNC_STATES

    @property
    def degraded(self) -> bool:
        """Not connected to its peer, or its local disk not up to date."""
        return not self.connected or self.disk_states[0] != "UpToDate"

    @property
    def local_disk(self) -> str:
        """Ganeti's ldisk status: ok, sync (resyncing), faulty (no disk, standalone), unknown."""
        if self.diskless or self.connection == "StandAlone":
            return "faulty"
        if self.disk_states[0] == "UpToDate":
            return "ok"
        if self.in_resync:
            return "sync"
        return "unknown"

    def as_dict(self) -> dict[str, Any]:
        """The status as a plain dict (module results)."""
        result = {
            "minor": self.minor, "configured": self.configured, "connection": self.connection,
            "role": self.roles[0], "peer_role": self.roles[1], "disk": self.disk_states[0],
            "peer_disk": self.disk_states[1], "protocol": self.protocol,
            "connected": self.connected, "primary": self.primary, "in_resync": self.in_resync,
            "degraded": self.degraded, "local_disk": self.local_disk,
            # Ganeti reports 0 % while a resync is about to start but shows no figures yet
            "sync_percent": (self.sync_percent if self.sync_percent is not None
                             else (0.0 if self.in_resync else None)),
            "sync_eta_seconds": self.sync_eta_seconds, "sync_speed_kib": self.sync_speed_kib,
            "sync_left_kib": self.sync_left_kib, "sync_total_kib": self.sync_total_kib,
        }
        result.update(self.counters)
        return result


@dataclasses.dataclass
class ProcDrbd:
    """All of ``/proc/drbd``: the module version and the minors it lists."""

    version: str = ""
    api: int = 0
    proto: str = ""
    minors: dict[int, DrbdStatus] = dataclasses.field(default_factory=dict)

    def status(self, minor: int) -> DrbdStatus:
        """The minor's status; an unlisted minor is unconfigured."""
        return self.minors.get(minor) or DrbdStatus(minor=minor)


def _apply_tokens(status: DrbdStatus, text: str) -> None:
    for key, value in TOKEN_RE.findall(text):
        if key not in PROC_FIELDS:
            continue
        attr, convert = PROC_FIELDS[key]
        try:
            converted = convert(value)
        except ValueError as err:
            raise StorageError("drbd%d: unexpected /proc/drbd value %s:%s"
                               % (status.minor, key, value)) from err
        if hasattr(status, attr):
            setattr(status, attr, converted)
        else:
            status.counters[attr] = converted


def _apply_progress(status: DrbdStatus, text: str) -> None:
    sync = SYNC_RE.search(text)
    if sync:
        scale = 1024 if sync.group(4) == "M" else 1
        status.sync_percent = float(sync.group(1))
        status.sync_left_kib = int(sync.group(2)) * scale
        status.sync_total_kib = int(sync.group(3)) * scale
    finish = FINISH_RE.search(text)
    if finish:
        hours, minutes, seconds = (int(finish.group(i)) for i in (1, 2, 3))
        status.sync_eta_seconds = hours * 3600 + minutes * 60 + seconds
        status.sync_speed_kib = int(finish.group(4).replace(",", ""))


def parse_proc_drbd(text: str) -> ProcDrbd:
    """Parse the text of ``/proc/drbd`` (8.4 format; 8.3 lines are read the same way)."""
    proc = ProcDrbd()
    current: DrbdStatus | None = None
    for line in text.splitlines():
        version = VERSION_RE.match(line)
        if version:
            proc.version = ".".join(version.group(i) for i in (1, 2, 3))
            proc.api, proc.proto = int(version.group(4)), version.group(5)
            continue
        header = MINOR_RE.match(line)
        if header:
            current = DrbdStatus(minor=int(header.group(1)))
            proc.minors[current.minor] = current
            rest = header.group(2)
            _apply_tokens(current, rest)
            if current.configured and not current.roles[0]:
                raise StorageError("drbd%d: cannot parse /proc/drbd line %r"
                                   % (current.minor, line.strip()))
            after_ds = re.search(r"ds:\S+\s+([A-C])\s", rest + " ")
            current.protocol = after_ds.group(1) if after_ds else ""
            continue
        if current is None or not line.strip():
            continue
        if "sync'ed:" in line or "verified:" in line or "finish:" in line:
            _apply_progress(current, line)
        else:
            _apply_tokens(current, line)
    return proc


def read_proc_drbd(path: str = "/proc/drbd") -> ProcDrbd:
    """Read and parse ``path``; a missing file means the DRBD module is not loaded."""
    try:
        with open(path) as handle:
            text = handle.read()
    except OSError as err:
        raise StorageError("cannot read %s (is the drbd kernel module loaded?): %s"
                           % (path, err.strerror)) from err
    proc = parse_proc_drbd(text)
    if proc.version and not proc.version.startswith("8.4."):
        raise StorageError("%s: DRBD kernel module %s loaded, 8.4 needed" % (path, proc.version))
    return proc


SHOW_ADDRESS_RE = re.compile(r"^(ipv4|ipv6)\s+\[?([0-9A-Fa-f.:]+?)\]?:(\d+)$")


def _statements(text: str) -> list[tuple[tuple[str, ...], str, str]]:
    """``(section path, key, value)`` for every ``key value;`` of drbd.conf-style text."""
    found = []
    path: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.endswith("{"):
            path.append(line[:-1].strip().split(None, 1)[0])
            continue
        if line == "}":
            if path:
                path.pop()
            continue
        parts = line.rstrip(";").split(None, 1)   # drbdsetup separates with tabs
        found.append((tuple(path), parts[0], parts[1].strip() if len(parts) > 1 else ""))
    return found


def parse_disk_options(text: str) -> dict[str, str]:
    """The ``disk { }`` section of ``drbdsetup show`` as raw ``key: value`` text, comments
    (``# bytes/second, default``) dropped: ``{"c-plan-ahead": "20", "resync-rate": "250k"}``."""
    return {key: value for path, key, value in _statements(text)
            if path and path[-1] == "disk"}


def _unquote(value: str) -> str:
    value = value.strip()
    if value.startswith('"'):
        return value[1:value.index('"', 1)]
    return value.split(None, 1)[0] if value else ""


def _address(value: str) -> tuple[str, int] | None:
    match = SHOW_ADDRESS_RE.match(value.strip())
    return (match.group(2), int(match.group(3))) if match else None


def parse_show(text: str) -> dict[str, Any]:
    """What ``drbdsetup show MINOR`` says: ``data_dev``/``meta_dev`` (None when no local
    disk), ``local_address``/``peer_address`` ((ip, port) or None without network),
    ``allow_two_primaries``, ``protocol`` (C unless shown), ``cram_hmac_alg``,
    ``has_secret`` (the secret itself is never returned) and ``secret`` for comparison."""
    info: dict[str, Any] = {"data_dev": None, "meta_dev": None, "local_address": None,
                            "peer_address": None, "allow_two_primaries": False,
                            "protocol": "C", "cram_hmac_alg": "", "secret": ""}
    for path, key, value in _statements(text):
        section = path[-1] if path else ""
        if section == "volume" and key == "disk":
            info["data_dev"] = _unquote(value)
        elif section == "volume" and key == "meta-disk":
            info["meta_dev"] = _unquote(value)
        elif section == "_this_host" and key == "address":
            info["local_address"] = _address(value)
        elif section == "_remote_host" and key == "address":
            info["peer_address"] = _address(value)
        elif section == "net" and key == "allow-two-primaries":
            info["allow_two_primaries"] = _unquote(value) == "yes"
        elif section == "net" and key == "protocol":
            info["protocol"] = _unquote(value)
        elif section == "net" and key == "cram-hmac-alg":
            info["cram_hmac_alg"] = _unquote(value)
        elif section == "net" and key == "shared-secret":
            info["secret"] = _unquote(value)
    info["has_secret"] = bool(info["secret"])
    return info
