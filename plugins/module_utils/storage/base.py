# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""The storage backend interface every disk kind implements on a node, and its command seam.

A backend manages the devices of one storage kind (file, lvm, drbd, ext) on the node it runs
on. Its state model follows Ganeti's block devices: a device may *exist* (its storage is
allocated), be *attached* (usable through a local path, e.g. an active LV, a configured DRBD
minor, a mapped ExtStorage volume) and be *open* (in use by a process such as QEMU, a mount or
DRBD stacked on top). :class:`DeviceState` carries that and what else is known (path, size).

Every changing operation takes ``check_mode``: when true it reads the current state (read-only
commands still run), decides what it would do and returns that without running anything that
changes the node. It returns an :class:`ActionResult`: ``changed``, ``actions`` (one line per
step, in the order they ran or would run) and the device state after the step (as it would be,
in check mode).

Backends run external tools only through a :data:`Runner`: a callable taking the argv list
and returning a :class:`CommandResult`. Modules pass :func:`module_runner` (AnsibleModule's
``run_command``), the coordinator and tests :func:`subprocess_runner`, unit tests a fake that
records argv and answers with canned output. Nothing goes through a shell.

No Ansible import: the coordinator may reuse the parsers and name checks.
"""

from __future__ import absolute_import, division, print_function
from __future__ import annotations  # 2.16's boilerplate check wants the line above as is

__metaclass__ = type

import dataclasses
import subprocess
from collections.abc import Callable, Sequence
from typing import Any


class StorageError(Exception):
    """A storage operation that cannot be done; the message names the device and the cause."""


class NotSupportedError(StorageError):
    """The backend has no such operation (e.g. snapshots of a DRBD device)."""


@dataclasses.dataclass(frozen=True)
class CommandResult:
    """What a command returned: exit status and its decoded output."""

    rc: int
    stdout: str
    stderr: str


Runner = Callable[[Sequence[str]], CommandResult]


def subprocess_runner(argv: Sequence[str]) -> CommandResult:
    """Run ``argv`` without a shell (LC_ALL=C) and return its status and output."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, check=False,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"})
    except OSError as err:
        return CommandResult(127, "", "%s: %s" % (argv[0], err.strerror))
    return CommandResult(proc.returncode, proc.stdout, proc.stderr)


def module_runner(module: Any) -> Runner:
    """A :data:`Runner` over ``AnsibleModule.run_command`` (no shell, C locale)."""

    def run(argv: Sequence[str]) -> CommandResult:
        try:
            rc, out, err = module.run_command(list(argv), check_rc=False,
                                              environ_update={"LC_ALL": "C"},
                                              handle_exceptions=False)
        except OSError as error:
            return CommandResult(127, "", "%s: %s" % (argv[0], error.strerror))
        return CommandResult(rc, out, err)

    return run


def command_failure(what: str, argv: Sequence[str], result: CommandResult,
                    step: str = "") -> str:
    """A message naming the object, the command (program and subcommand, never the whole
    argv, which may hold a secret), its error output and the step it was for."""
    words = {"drbdsetup": list(argv[:2]), "drbdmeta": [argv[0], argv[-1]],
             "/usr/bin/env": [argv[-1].rsplit("/", 1)[-1], "script"]}.get(argv[0], [argv[0]])
    detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
    return "%s: %s failed (exit %d)%s%s" % (
        what, " ".join(words), result.rc,
        (": " + " ".join(line.strip() for line in detail)) if detail else "",
        " [step: %s]" % step if step else "")


@dataclasses.dataclass
class DeviceState:
    """A device as a backend sees it (the spirit of Ganeti's BlockDev states)."""

    name: str
    exists: bool = False
    attached: bool = False
    is_open: bool = False
    path: str | None = None
    size_mib: int = 0
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The state as a plain dict (for module results); ``details`` merged in."""
        result = {"name": self.name, "exists": self.exists, "attached": self.attached,
                  "open": self.is_open, "path": self.path, "size_mib": self.size_mib}
        result.update(self.details)
        return result


@dataclasses.dataclass
class ActionResult:
    """The outcome of a changing operation (or what it would be, in check mode)."""

    state: DeviceState
    actions: list[str] = dataclasses.field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when something was (or would be) changed."""
        return bool(self.actions)

    def as_dict(self) -> dict[str, Any]:
        """``changed``, ``actions`` and the device state, as a module returns them."""
        result = self.state.as_dict()
        result.update(changed=self.changed, actions=list(self.actions))
        return result


class CommandBackend:
    """Helpers for backends that drive command-line tools through a :data:`Runner`.

    :meth:`read` runs a command that changes nothing (always, check mode or not);
    :meth:`change` records an action and runs its commands unless in check mode.
    """

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def read(self, what: str, argv: Sequence[str]) -> str:
        """Run a read-only command; its stdout, or :class:`StorageError` naming ``what``."""
        result = self.runner(list(argv))
        if result.rc != 0:
            raise StorageError(command_failure(what, argv, result))
        return result.stdout

    def change(self, what: str, outcome: ActionResult, action: str,
               commands: Sequence[Sequence[str]], check_mode: bool) -> None:
        """Record ``action`` in ``outcome`` and run ``commands`` in order unless in check mode.

        The first failing command raises :class:`StorageError` naming ``what``, with the
        actions already done listed, so a half-done change is never reported as not made.
        """
        outcome.actions.append(action)
        if check_mode:
            return
        for argv in commands:
            result = self.runner(list(argv))
            if result.rc != 0:
                done = outcome.actions[:-1]
                raise StorageError(command_failure(what, argv, result, step=action)
                                   + ("; already done: %s" % "; ".join(done) if done else ""))


class StorageBackend:
    """The interface of a storage kind on a node. Names are backend-specific identifiers
    (a path for files, ``vg/lv`` parts for LVM, a volume name for ExtStorage).

    Operations a kind does not have raise :class:`NotSupportedError` naming the kind.
    """

    kind = "abstract"

    def _unsupported(self, operation: str, name: str) -> NotSupportedError:
        return NotSupportedError("%s device %s: the %s backend cannot %s"
                                 % (self.kind, name, self.kind, operation))

    def info(self, name: str) -> DeviceState:
        """The current state of device ``name`` (``exists=False`` when missing)."""
        raise self._unsupported("report", name)

    def create(self, name: str, size_mib: int, check_mode: bool = False,
               **options: Any) -> ActionResult:
        """Make sure device ``name`` exists (created with ``size_mib`` when missing)."""
        raise self._unsupported("create", name)

    def remove(self, name: str, check_mode: bool = False) -> ActionResult:
        """Make sure device ``name`` no longer exists."""
        raise self._unsupported("remove", name)

    def rename(self, old_name: str, new_name: str, check_mode: bool = False) -> ActionResult:
        """Make sure the device is called ``new_name`` (done when only ``new_name`` exists)."""
        raise self._unsupported("rename", old_name)

    def grow(self, name: str, size_mib: int, check_mode: bool = False) -> ActionResult:
        """Make sure the device is at least ``size_mib``; a larger size than asked fails."""
        raise self._unsupported("grow", name)

    def attach(self, name: str, check_mode: bool = False) -> ActionResult:
        """Make the device usable through its local path (assemble)."""
        raise self._unsupported("attach", name)

    def detach(self, name: str, check_mode: bool = False) -> ActionResult:
        """Release the device's local path (shutdown); its data stays."""
        raise self._unsupported("detach", name)

    def snapshot(self, name: str, snap_name: str, size_mib: int,
                 check_mode: bool = False) -> ActionResult:
        """Make sure a snapshot ``snap_name`` of device ``name`` exists."""
        raise self._unsupported("snapshot", name)

    def verify(self) -> list[str]:
        """Problems of the backend's storage on this node (empty when healthy)."""
        return []


def check_grow(what: str, current_mib: int, wanted_mib: int) -> bool:
    """True when a device of ``current_mib`` must grow to ``wanted_mib``; equal is False.

    Raises :class:`StorageError` when ``wanted_mib`` is smaller: disks are never shrunk.
    """
    if wanted_mib < current_mib:
        raise StorageError("%s is %d MiB, cannot shrink it to %d MiB"
                           % (what, current_mib, wanted_mib))
    return wanted_mib > current_mib


def positive_size(what: str, size_mib: Any) -> int:
    """``size_mib`` as a positive int, or :class:`StorageError` naming ``what``."""
    if isinstance(size_mib, bool) or not isinstance(size_mib, int) or size_mib <= 0:
        raise StorageError("%s: size must be a positive number of MiB, got %r"
                           % (what, size_mib))
    return size_mib


def state_diff(before: DeviceState, after: DeviceState,
               keys: Sequence[str] = ("exists", "size_mib", "path")) -> dict[str, Any]:
    """Ansible's ``diff`` (before/after dicts of ``keys``) of a device's states."""
    return {"before": {key: before.as_dict().get(key) for key in keys},
            "after": {key: after.as_dict().get(key) for key in keys}}
