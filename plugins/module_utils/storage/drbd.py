# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""DRBD 8.4 devices (the ``drbd`` template): a mirror of a data LV between two nodes.

Driven with ``drbdsetup`` and ``drbdmeta`` directly, as Ganeti drives 8.4, not through
``drbdadm`` and resource files. Why: the coordinator owns the configuration (minors, ports,
secrets live in the cluster config), so a file per resource would be a second copy to keep in
sync and clean up on every node; ``drbdsetup`` takes everything on its command line, says what
the kernel really has (``drbdsetup show``, ``/proc/drbd``), and each step is one argv a test
can check. On Debian 12 the ``drbdsetup`` of drbd-utils 9 execs its ``drbdsetup-84`` when the
8.4 kernel module is loaded (Debian's cloud kernel ships 8.4.11), so the plain name works;
``drbdmeta`` is one tool for all formats (``v08`` is the 8.4 meta-data format).

A device is one resource ``resource<minor>`` with one volume (0), device ``/dev/drbd<minor>``,
external meta-data (``flex-external``) on its own 128 MiB LV. Commands, per step:

- meta-data: ``drbdmeta --force /dev/drbdN v08 META flex-external create-md`` (only when
  ``drbdmeta ... get-gi`` finds no valid meta-data, so data is never wiped twice);
- resource: ``drbdsetup new-resource resourceN``, ``drbdsetup new-minor resourceN N 0``;
- local disk: ``drbdmeta /dev/drbdN v08 META flex-external apply-al``, then ``drbdsetup attach
  N DATA META flexible --on-io-error=detach [--size SIZEm] PACING``;
- resync pacing (the drbd sync disk parameters, :data:`SYNC_PARAMS`), PACING in the attach and,
  on an attached disk whose kernel values differ, ``drbdsetup disk-options N PACING``: PACING
  is ``--c-plan-ahead P --c-fill-target Fs --c-delay-target D --c-max-rate MAXk --c-min-rate
  MINk`` (dynamic-resync) or ``--c-plan-ahead 0 --resync-rate RATEk`` (fixed rate);
- network: ``drbdsetup connect resourceN ipv4:IP:PORT ipv4:PEER:PORT --protocol C
  --after-sb-0pri discard-zero-changes --after-sb-1pri consensus [--allow-two-primaries]
  --cram-hmac-alg ALG --shared-secret SECRET`` (Ganeti's after-split-brain policies);
  dual-primary switched live with ``drbdsetup net-options LOCAL PEER --allow-two-primaries=yes|no``;
- role: ``drbdsetup primary N [--force]`` / ``drbdsetup secondary N``;
- teardown: ``drbdsetup disconnect LOCAL PEER``, ``drbdsetup detach N``, ``drbdsetup down
  resourceN``; grow: ``drbdsetup resize N``.

The shared secret is on ``drbdsetup``'s command line (as with Ganeti); it is never returned.
"""

from __future__ import absolute_import, division, print_function
from __future__ import annotations  # 2.16's boilerplate check wants the line above as is

__metaclass__ = type

import dataclasses
import ipaddress
import os
import re
import time
from collections.abc import Callable
from typing import Any

from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import (
    ActionResult,
    CommandBackend,
    DeviceState,
    Runner,
    StorageBackend,
    StorageError,
    command_failure,
)
from ansible_collections.gnt.cluster.plugins.module_utils.storage.drbd_status import (
    DrbdStatus,
    ProcDrbd,
    parse_disk_options,
    parse_show,
    read_proc_drbd,
)
from ansible_collections.gnt.cluster.plugins.module_utils.storage.drbd_sync import (
    DrbdSync,
    sync_values,
)

META_SIZE_MIB = 128          # Ganeti's DRBD meta-data volume size
MAX_MINOR = 255              # Ganeti's highest minor
HMAC_ALGS = ("md5", "sha1", "sha256", "sha512")
PROTOCOLS = ("A", "B", "C")
DEV_PATH_RE = re.compile(r"^/dev/[A-Za-z0-9_+.:/-]+$")
SECRET_RE = re.compile(r"^[\x21-\x7e]{1,64}$")   # printable, no blank, drbd's 64-char limit
AFTER_SPLIT_BRAIN = ("--after-sb-0pri", "discard-zero-changes",
                     "--after-sb-1pri", "consensus")


def device_path(minor: int) -> str:
    """``/dev/drbd<minor>``."""
    return "/dev/drbd%d" % minor


def resource_name(minor: int) -> str:
    """The resource of a minor: one resource per device, as Ganeti names them."""
    return "resource%d" % minor


def validate_minor(minor: Any) -> int:
    if isinstance(minor, bool) or not isinstance(minor, int) or not 0 <= minor <= MAX_MINOR:
        raise StorageError("invalid DRBD minor %r: expected 0-%d" % (minor, MAX_MINOR))
    return minor


def validate_device(minor: int, role: str, path: Any) -> str:
    if not isinstance(path, str) or not DEV_PATH_RE.match(path) or "/../" in path + "/":
        raise StorageError("drbd%d: invalid %s device %r: expected a path under /dev"
                           % (minor, role, path))
    return path


@dataclasses.dataclass(frozen=True)
class DrbdNet:
    """The network half of a device: both ends, the protocol and the shared secret."""

    local_ip: str
    local_port: int
    peer_ip: str
    peer_port: int
    secret: str
    hmac_alg: str = "md5"
    protocol: str = "C"
    dual_primary: bool = False

    def family(self, minor: int) -> str:
        """``ipv4`` or ``ipv6``; both ends must be of the same family."""
        try:
            local = ipaddress.ip_address(self.local_ip)
            peer = ipaddress.ip_address(self.peer_ip)
        except ValueError as err:
            raise StorageError("drbd%d: invalid address: %s" % (minor, err)) from err
        if local.version != peer.version:
            raise StorageError("drbd%d: cannot connect %s to %s (different address families)"
                               % (minor, self.local_ip, self.peer_ip))
        return "ipv%d" % local.version

    def endpoints(self, minor: int) -> list[str]:
        """``[LOCAL, PEER]`` as drbdsetup takes them (``ipv6:[addr]:port`` for IPv6)."""
        family = self.family(minor)
        fmt = "%s:[%s]:%d" if family == "ipv6" else "%s:%s:%d"
        return [fmt % (family, self.local_ip, self.local_port),
                fmt % (family, self.peer_ip, self.peer_port)]

    def validate(self, minor: int) -> None:
        self.family(minor)
        for what, port in (("local", self.local_port), ("peer", self.peer_port)):
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                raise StorageError("drbd%d: invalid %s port %r" % (minor, what, port))
        if not isinstance(self.secret, str) or not SECRET_RE.match(self.secret):
            raise StorageError("drbd%d: the shared secret must be 1-64 printable characters "
                               "without blanks" % minor)
        if self.hmac_alg not in HMAC_ALGS:
            raise StorageError("drbd%d: unknown cram-hmac-alg %r (expected one of %s)"
                               % (minor, self.hmac_alg, ", ".join(HMAC_ALGS)))
        if self.protocol not in PROTOCOLS:
            raise StorageError("drbd%d: unknown protocol %r" % (minor, self.protocol))


@dataclasses.dataclass(frozen=True)
class DrbdSpec:
    """A device as the coordinator wants it on this node."""

    minor: int
    data_dev: str | None = None
    meta_dev: str | None = None
    size_mib: int | None = None
    net: DrbdNet | None = None
    sync: DrbdSync = DrbdSync()

    def validate(self) -> None:
        validate_minor(self.minor)
        if (self.data_dev is None) != (self.meta_dev is None):
            raise StorageError("drbd%d: data and meta devices go together" % self.minor)
        if self.data_dev is not None:
            validate_device(self.minor, "data", self.data_dev)
            validate_device(self.minor, "meta", self.meta_dev)
        if self.net is not None:
            self.net.validate(self.minor)
        self.sync.validate(self.minor)


ProcReader = Callable[[], ProcDrbd]
# The module as Ganeti's install guide loads it: room for every minor we hand out, and no
# usermode helper (the cluster manages the devices, not drbdadm's handlers).
MODULE_ARGV = ("modprobe", "drbd", "minor_count=%d" % (MAX_MINOR + 1))
DEFAULT_USERMODE_HELPER = "/bin/true"
# DRBD runs this helper on events (before a resync...); drbd-utils' default, drbdadm, fails for
# resources it has no configuration of and DRBD then drops the connection. Writable at runtime.
USERMODE_HELPER_FILE = "/sys/module/drbd/parameters/usermode_helper"
# ``drbdsetup down`` refused because a state change is under way (exit 11, "(-18) In
# transient state, retry after next state change"), e.g. while the peer's end goes down at
# the same moment: retried, as DRBD advises, for up to DOWN_RETRY_S seconds.
TRANSIENT_STATE = re.compile(r"\(-18\)|In transient state")
DOWN_RETRY_S = 15.0


def drbd_module_loaded() -> bool:
    """Whether the drbd kernel module is loaded (``/proc/drbd`` exists)."""
    return os.path.exists("/proc/drbd")


def parse_device(name: Any) -> int:
    """A minor from ``5``, ``"5"`` or ``"/dev/drbd5"`` (names in the backend interface)."""
    text = str(name)
    if text.startswith("/dev/drbd"):
        text = text[len("/dev/drbd"):]
    if not text.isdigit():
        raise StorageError("invalid DRBD device %r: expected a minor or /dev/drbdN" % (name,))
    return validate_minor(int(text))


class DrbdBackend(StorageBackend, CommandBackend):
    """DRBD 8.4 devices of this node, by minor.

    Of the generic interface it answers :meth:`info`, :meth:`detach` (= :meth:`down`) and
    :meth:`verify`; bringing a device up needs its whole :class:`DrbdSpec`, so that is
    :meth:`assemble`. Creating, growing and removing the data lives in the LVs below
    (:mod:`lvm`), with :meth:`create_metadata` and :meth:`resize` for DRBD's part.
    """

    kind = "drbd"

    def __init__(self, runner: Runner, proc_reader: ProcReader | None = None,
                 module_loaded: Callable[[], bool] | None = None,
                 helper_file: str = USERMODE_HELPER_FILE) -> None:
        CommandBackend.__init__(self, runner)
        self.sleep: Callable[[float], Any] = time.sleep     # swapped by tests
        self.clock: Callable[[], float] = time.monotonic
        self.proc_reader = proc_reader or read_proc_drbd
        self.module_loaded = module_loaded or drbd_module_loaded
        self.helper_file = helper_file

    def status(self, minor: int) -> DrbdStatus:
        """The minor's ``/proc/drbd`` status (unconfigured when not listed, or when the
        module is not loaded)."""
        validate_minor(minor)
        if not self.module_loaded():
            return DrbdStatus(minor=minor)
        return self.proc_reader().status(minor)

    def wait_for_sync(self, minor: int, timeout: float, stall: float = 60.0,
                      poll: float = 0.5, sleep: Callable[[float], Any] = time.sleep,
                      clock: Callable[[], float] = time.monotonic) -> DrbdStatus:
        """Wait until both disks of the minor are up to date (Ganeti's wait for sync), reading
        ``/proc/drbd`` every ``poll`` seconds in this one process (cheap next to a resync);
        StorageError when it is not configured, when it stays degraded without resyncing
        for ``stall`` seconds (no peer, a diskless end), or after ``timeout`` seconds."""
        validate_minor(minor)
        start = clock()
        stalled_since = None
        while True:
            status = self.status(minor)
            if not status.configured:
                raise StorageError("drbd%d is not configured: there is nothing to sync" % minor)
            if status.disk_states == ("UpToDate", "UpToDate"):
                return status
            now = clock()
            if status.in_resync:
                stalled_since = None
            elif stalled_since is None:
                stalled_since = now
            elif now - stalled_since >= stall:
                raise StorageError("drbd%d is degraded and not resyncing for %d s: connection"
                                   " %s, disk %s, peer disk %s"
                                   % (minor, stall, status.connection, status.disk_states[0],
                                      status.disk_states[1]))
            if now - start >= timeout:
                done = status.sync_percent
                raise StorageError("drbd%d: the resync did not end within %d s (%s done)"
                                   % (minor, timeout,
                                      "?" if done is None else "%.1f%%" % done))
            sleep(poll)

    def load_module(self, outcome: ActionResult, check_mode: bool,
                    usermode_helper: str = DEFAULT_USERMODE_HELPER) -> None:
        """Load the drbd kernel module when it is not loaded (``modprobe drbd
        minor_count=256 usermode_helper=HELPER``; Ganeti's drbd_usermode_helper), or set
        the helper of a loaded module when it differs (drbd-utils' default ``drbdadm``
        refuses resources it has no file of, and DRBD then drops the connection)."""
        if not re.match(r"^/[A-Za-z0-9_./+-]+$", usermode_helper or ""):
            raise StorageError("invalid DRBD usermode helper %r: expected an absolute path"
                               % (usermode_helper,))
        if not self.module_loaded():
            self.change("drbd kernel module", outcome, "loaded the drbd kernel module",
                        [list(MODULE_ARGV) + ["usermode_helper=%s" % usermode_helper]],
                        check_mode)
            return
        try:
            with open(self.helper_file) as handle:
                current = handle.read().strip()
        except OSError:
            return  # a module without the parameter: nothing to set
        if current != usermode_helper:
            outcome.actions.append("set the drbd usermode helper to %s (was %s)"
                                   % (usermode_helper, current))
            if not check_mode:
                try:
                    with open(self.helper_file, "w") as handle:
                        handle.write(usermode_helper)
                except OSError as err:
                    raise StorageError("cannot set the drbd usermode helper in %s: %s"
                                       % (self.helper_file, err.strerror)) from err

    def show(self, minor: int) -> dict[str, Any]:
        """The kernel's configuration of the minor (``drbdsetup show``); empty fields when
        the minor is not configured (drbdsetup fails for an unknown minor)."""
        result = self.runner(["drbdsetup", "show", str(validate_minor(minor))])
        return parse_show(result.stdout if result.rc == 0 else "")

    def info(self, name: Any) -> DeviceState:
        """The device state: exists = configured in the kernel, attached = has its local
        disk, open = Primary (Ganeti opens a DRBD device by making it primary)."""
        minor = parse_device(name)
        status = self.status(minor)
        conf = self.show(minor) if status.configured else parse_show("")
        details = status.as_dict()
        details.update(data_dev=conf["data_dev"], meta_dev=conf["meta_dev"],
                       local_address=_addr(conf["local_address"]),
                       peer_address=_addr(conf["peer_address"]),
                       dual_primary=conf["allow_two_primaries"])
        return DeviceState(name=device_path(minor), exists=status.configured,
                           attached=bool(conf["data_dev"]), is_open=status.primary,
                           path=device_path(minor), details=details)

    def _what(self, minor: int) -> str:
        return "drbd%d" % minor

    def meta_size_ok(self, spec: DrbdSpec) -> None:
        """Refuse a meta-data device smaller than 128 MiB (``blockdev --getsize64``)."""
        out = self.read("drbd%d meta device %s" % (spec.minor, spec.meta_dev),
                        ["blockdev", "--getsize64", spec.meta_dev or ""])
        try:
            size = int(out.strip())
        except ValueError as err:
            raise StorageError("drbd%d: unexpected size of %s: %r"
                               % (spec.minor, spec.meta_dev, out)) from err
        if size < META_SIZE_MIB * 1024 * 1024:
            raise StorageError("drbd%d: meta device %s has %d bytes, %d MiB needed"
                               % (spec.minor, spec.meta_dev, size, META_SIZE_MIB))

    def _md_argv(self, spec: DrbdSpec, command: str, force: bool = False,
                 minor: int | None = None) -> list[str]:
        return (["drbdmeta"] + (["--force"] if force else [])
                + [device_path(spec.minor if minor is None else minor), "v08",
                   spec.meta_dev or "", "flex-external", command])

    def unused_minor(self) -> int:
        """The lowest minor not configured here (drbdmeta refuses to work "for" a configured
        minor, so meta-data for a configured, diskless one is written through this one, as
        Ganeti does when it replaces a device's disks)."""
        used = set(self.proc_reader().minors) if self.module_loaded() else set()
        return next(m for m in range(MAX_MINOR + 1) if m not in used)

    def create_metadata(self, spec: DrbdSpec, check_mode: bool = False) -> ActionResult:
        """Write fresh DRBD meta-data on the meta device unless valid meta-data is there.

        Nothing to do when the minor is attached to these very volumes (its meta-data is in
        use: the primary's end when its peer is replaced); refused while it is attached to
        others (drbdmeta would refuse too)."""
        spec.validate()
        if spec.meta_dev is None:
            raise StorageError("drbd%d: no meta device given" % spec.minor)
        outcome = ActionResult(state=self.info(spec.minor))
        self.meta_size_ok(spec)
        via = None
        if outcome.state.exists:
            if outcome.state.attached or not self.status(spec.minor).diskless:
                conf = self.show(spec.minor)
                if (conf["data_dev"], conf["meta_dev"]) == (spec.data_dev, spec.meta_dev):
                    return outcome
                raise StorageError("drbd%d: cannot create meta-data on %s: the minor is in use"
                                   " with its disk attached" % (spec.minor, spec.meta_dev))
            via = self.unused_minor()     # configured without disk: a replaced disk
        if self.runner(self._md_argv(spec, "get-gi", minor=via)).rc == 0:
            return outcome
        self.change(self._what(spec.minor), outcome,
                    "created meta-data on %s" % spec.meta_dev,
                    [self._md_argv(spec, "create-md", force=True, minor=via)], check_mode)
        return outcome

    def assemble(self, spec: DrbdSpec, role: str | None = None, force_primary: bool = False,
                 check_mode: bool = False,
                 usermode_helper: str = DEFAULT_USERMODE_HELPER) -> ActionResult:
        """Bring the device to ``spec``: resource and minor, local disk, network, then the
        ``role`` (``primary``/``secondary``/None = leave), loading the kernel module first
        when it is not loaded. Steps already in place are
        skipped; a different local disk or peer than wanted is an error (disk) or replaced
        (network: disconnected and connected again)."""
        spec.validate()
        minor = spec.minor
        what = self._what(minor)
        outcome = ActionResult(state=DeviceState(name=device_path(minor),
                                                 path=device_path(minor)))
        self.load_module(outcome, check_mode, usermode_helper)
        status = self.status(minor)
        conf = self.show(minor) if status.configured else parse_show("")
        if not status.configured:
            self.change(what, outcome, "created resource %s" % resource_name(minor),
                        [["drbdsetup", "new-resource", resource_name(minor)],
                         ["drbdsetup", "new-minor", resource_name(minor), str(minor), "0"]],
                        check_mode)
        if spec.data_dev is not None:
            self._assemble_disk(spec, conf, outcome, check_mode)
        if spec.net is not None:
            self._assemble_net(spec, spec.net, conf, outcome, check_mode)
        if role == "primary" and not status.primary:
            self.change(what, outcome, "made primary" + (" (forced)" if force_primary else ""),
                        [["drbdsetup", "primary", str(minor)]
                         + (["--force"] if force_primary else [])], check_mode)
        elif role == "secondary" and status.primary:
            self.change(what, outcome, "made secondary",
                        [["drbdsetup", "secondary", str(minor)]], check_mode)
        return self._after(outcome, minor, check_mode, spec=spec, role=role)

    def _assemble_disk(self, spec: DrbdSpec, conf: dict[str, Any], outcome: ActionResult,
                       check_mode: bool) -> None:
        """Attach the local disk with its resync pacing (Ganeti sets the sync parameters at
        each assembly); on an attached disk, set the pacing only where the kernel's values
        (``drbdsetup show --show-defaults``) differ from the wanted ones."""
        minor = spec.minor
        what = self._what(minor)
        if conf["data_dev"]:
            if (conf["data_dev"], conf["meta_dev"]) != (spec.data_dev, spec.meta_dev):
                raise StorageError("drbd%d has local disk %s (meta %s), not %s (meta %s): "
                                   "detach it first" % (minor, conf["data_dev"],
                                                        conf["meta_dev"], spec.data_dev,
                                                        spec.meta_dev))
            current = self.sync_shown(minor)
            differ = sorted(name for name, value in spec.sync.wanted().items()
                            if current.get(name) != value)
            if differ:
                self.change(what, outcome, "set the resync pacing (%s)" % ", ".join(differ),
                            [spec.sync.argv(minor)], check_mode)
            return
        # The pacing goes with the attach: a disk attached to a connected minor negotiates
        # with its peer first (disk state Negotiating), and a disk-options in that window
        # fails with "Device does not have a disk-config" (DRBD 8.4 error 138).
        attach = ["drbdsetup", "attach", str(minor), spec.data_dev or "", spec.meta_dev or "",
                  "flexible", "--on-io-error=detach"]
        if spec.size_mib:
            attach += ["--size", "%dm" % spec.size_mib]
        self.change(what, outcome,
                    "attached disk %s (meta %s)" % (spec.data_dev, spec.meta_dev),
                    [self._md_argv(spec, "apply-al"), attach + spec.sync.options()],
                    check_mode)

    def sync_shown(self, minor: int) -> dict[str, int | None]:
        """The resync pacing in force for the minor (:func:`sync_values` of ``drbdsetup show
        --show-defaults``); all None when it cannot be read."""
        result = self.runner(["drbdsetup", "show", "--show-defaults", str(minor)])
        return sync_values(parse_disk_options(result.stdout if result.rc == 0 else ""))

    def _assemble_net(self, spec: DrbdSpec, net: DrbdNet, conf: dict[str, Any],
                      outcome: ActionResult, check_mode: bool) -> None:
        minor = spec.minor
        local, peer = net.endpoints(minor)
        wanted = ((net.local_ip, net.local_port), (net.peer_ip, net.peer_port))
        current = (conf["local_address"], conf["peer_address"])
        if current[0] is not None:
            same = (_norm(current) == _norm(wanted) and conf["protocol"] == net.protocol
                    and conf["secret"] == net.secret and conf["cram_hmac_alg"] == net.hmac_alg)
            if same:
                if conf["allow_two_primaries"] != net.dual_primary:
                    self.change(self._what(minor), outcome,
                                "%s dual-primary" % ("allowed" if net.dual_primary
                                                     else "disallowed"),
                                [["drbdsetup", "net-options", local, peer,
                                  "--allow-two-primaries=%s"
                                  % ("yes" if net.dual_primary else "no")]], check_mode)
                return
            if current[1] is not None:
                self.change(self._what(minor), outcome,
                            "disconnected from %s" % _addr(current[1]),
                            [["drbdsetup", "disconnect", _endpoint(current[0]),
                              _endpoint(current[1])]], check_mode)
        connect = ["drbdsetup", "connect", resource_name(minor), local, peer,
                   "--protocol", net.protocol] + list(AFTER_SPLIT_BRAIN)
        if net.dual_primary:
            connect.append("--allow-two-primaries")
        connect += ["--cram-hmac-alg", net.hmac_alg, "--shared-secret", net.secret]
        self.change(self._what(minor), outcome,
                    "connected %s:%d to %s:%d" % (net.local_ip, net.local_port, net.peer_ip,
                                                  net.peer_port), [connect], check_mode)

    def _after(self, outcome: ActionResult, minor: int, check_mode: bool,
               spec: DrbdSpec | None = None, role: str | None = None,
               down: bool = False) -> ActionResult:
        if not check_mode or not outcome.changed:
            outcome.state = self.info(minor)
            return outcome
        state = self.info(minor)
        if down:
            state = DeviceState(name=device_path(minor), path=device_path(minor),
                                details={"minor": minor, "configured": False})
        elif spec is not None:
            state.exists = True
            state.attached = state.attached or spec.data_dev is not None
            if role:
                state.is_open = role == "primary"
                state.details["role"] = role.capitalize()
        outcome.state = state
        return outcome

    def disconnect(self, minor: int, check_mode: bool = False) -> ActionResult:
        """Drop the network (StandAlone); the local disk stays."""
        conf = self.show(validate_minor(minor))
        outcome = ActionResult(state=DeviceState(name=device_path(minor)))
        if conf["local_address"] is not None and conf["peer_address"] is not None:
            self.change(self._what(minor), outcome,
                        "disconnected from %s" % _addr(conf["peer_address"]),
                        [["drbdsetup", "disconnect", _endpoint(conf["local_address"]),
                          _endpoint(conf["peer_address"])]], check_mode)
        return self._after(outcome, minor, check_mode)

    def detach_disk(self, minor: int, check_mode: bool = False) -> ActionResult:
        """Detach the local disk (the device goes Diskless; the peer keeps serving)."""
        conf = self.show(validate_minor(minor))
        outcome = ActionResult(state=DeviceState(name=device_path(minor)))
        if conf["data_dev"]:
            self.change(self._what(minor), outcome, "detached disk %s" % conf["data_dev"],
                        [["drbdsetup", "detach", str(minor)]], check_mode)
        return self._after(outcome, minor, check_mode)

    def down(self, minor: int, check_mode: bool = False) -> ActionResult:
        """Tear the device down completely (``drbdsetup down``): network, disk, minor and
        resource. DRBD itself refuses while the device is held open, and says so."""
        status = self.status(minor)
        outcome = ActionResult(state=DeviceState(name=device_path(minor)))
        if status.configured:
            outcome.actions.append("shut down")
            if not check_mode:
                self._run_down(minor)
        return self._after(outcome, minor, check_mode, down=True)

    def _run_down(self, minor: int) -> None:
        """``drbdsetup down``, again while DRBD answers that a state change is under way
        (it says to retry after the next one), for up to :data:`DOWN_RETRY_S` seconds."""
        argv = ["drbdsetup", "down", resource_name(minor)]
        deadline = self.clock() + DOWN_RETRY_S
        wait = 0.1
        while True:
            result = self.runner(list(argv))
            if result.rc == 0:
                return
            if not TRANSIENT_STATE.search(result.stderr + result.stdout) \
                    or self.clock() >= deadline:
                raise StorageError(command_failure(self._what(minor), argv, result,
                                                   step="shut down"))
            self.sleep(wait)
            wait = min(1.0, wait * 2)

    def detach(self, name: Any, check_mode: bool = False) -> ActionResult:
        return self.down(parse_device(name), check_mode=check_mode)

    def verify(self) -> list[str]:
        """The DRBD 8.4 module is loaded and ``/proc/drbd`` readable."""
        if not self.module_loaded():
            return ["the drbd kernel module is not loaded"]
        try:
            self.proc_reader()
        except StorageError as err:
            return [str(err)]
        return []

    def resize(self, minor: int, size_mib: int | None = None,
               check_mode: bool = False) -> ActionResult:
        """Let the device use its grown backing volume (``drbdsetup resize``), optionally
        to an exact ``size_mib``. Always runs (the kernel knows whether there is more)."""
        validate_minor(minor)
        outcome = ActionResult(state=DeviceState(name=device_path(minor)))
        argv = ["drbdsetup", "resize", str(minor)]
        if size_mib:
            argv += ["--size", "%dm" % size_mib]
        action = "resized to %d MiB" % size_mib if size_mib else "resized"
        self.change(self._what(minor), outcome, action, [argv], check_mode)
        return self._after(outcome, minor, check_mode)


def _addr(address: tuple[str, int] | None) -> str | None:
    if address is None:
        return None
    host, port = address
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def _endpoint(address: tuple[str, int]) -> str:
    host, port = address
    if ":" in host:
        return "ipv6:[%s]:%d" % (host, port)
    return "ipv4:%s:%d" % (host, port)


def _norm(pair: tuple[Any, Any]) -> tuple[Any, ...]:
    """Addresses compared as IP values, so ``fd00::1`` equals ``fd00:0::1``."""
    return tuple((str(ipaddress.ip_address(host)), port) if host else None
                 for host, port in (a if a else (None, None) for a in pair))
