# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""Ganeti's ExtStorage interface (the ``ext`` template), so existing providers plug in.

A provider is a directory named after it in one of the ExtStorage search path directories
(the first match wins), holding the executables of :data:`EXT_SCRIPTS` and a
``parameters.list`` (one ``name description`` per line). Each script gets its input as
environment variables only, in an otherwise empty environment (a fixed PATH and the C
locale): ``VOL_NAME`` always, ``VOL_CNAME``/``VOL_UUID`` when the disk has them,
``EXTP_<PARAM>`` per ExtStorage parameter (upper-cased), plus the variables of its row of
:data:`EXT_SCRIPTS`. Scripts run in the provider directory, through ``env -i -C DIR`` so the
one command seam (argv in, output out) carries them too.

``attach`` prints the volume's block device path on its first line (empty when there is
only userspace access) and ``<hypervisor>:<uri>`` lines after it. ``attach`` and ``detach``
are idempotent by the interface. There is no query script: whether a volume exists is learnt
by attaching it (as Ganeti does before removing), so check mode cannot probe existence and
reports the scripts it would run.
"""

from __future__ import absolute_import, division, print_function
from __future__ import annotations  # 2.16's boilerplate check wants the line above as is

__metaclass__ = type

import dataclasses
import os
import re
import stat
from collections.abc import Sequence
from typing import Any

from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import (
    ActionResult,
    CommandBackend,
    DeviceState,
    NotSupportedError,
    Runner,
    StorageBackend,
    StorageError,
    check_grow,
    command_failure,
    positive_size,
)

# script -> (required, variables it gets besides VOL_NAME, VOL_CNAME, VOL_UUID, EXTP_*)
EXT_SCRIPTS: dict[str, tuple[bool, tuple[str, ...]]] = {
    "create": (True, ("VOL_SIZE",)),
    "attach": (True, ()),
    "detach": (True, ()),
    "remove": (True, ()),
    "grow": (True, ("VOL_SIZE", "VOL_NEW_SIZE")),
    "setinfo": (True, ("VOL_METADATA",)),
    "verify": (True, ()),
    "snapshot": (False, ("VOL_SNAPSHOT_NAME", "VOL_SNAPSHOT_SIZE")),
    "open": (False, ("VOL_OPEN_EXCLUSIVE",)),
    "close": (False, ()),
}
PARAMETERS_FILE = "parameters.list"
SCRIPT_ENV = ("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C")
ENV_TOOL = "/usr/bin/env"
PROVIDER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
VOLUME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+:-]{0,254}$")
PARAM_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
METADATA_MAX = 128


@dataclasses.dataclass(frozen=True)
class Provider:
    """A valid provider found on this node."""

    name: str
    path: str
    scripts: dict[str, str | None]
    parameters: list[tuple[str, str]]


def _check_file(provider: str, directory: str, filename: str, required: bool,
                executable: bool) -> str | None:
    path = os.path.join(directory, filename)
    try:
        st = os.stat(path)
    except OSError as err:
        if not required:
            return None
        raise StorageError("ExtStorage provider %s: %s is missing in %s (%s)"
                           % (provider, filename, directory, err.strerror)) from err
    if not stat.S_ISREG(st.st_mode):
        raise StorageError("ExtStorage provider %s: %s in %s is not a regular file"
                           % (provider, filename, directory))
    if executable and not st.st_mode & stat.S_IXUSR:
        raise StorageError("ExtStorage provider %s: %s in %s is not executable"
                           % (provider, filename, directory))
    return path


def find_provider(name: str, search_path: Sequence[str]) -> Provider:
    """The provider ``name`` from the first search path directory that has it, checked:
    every required script present and executable, ``parameters.list`` readable."""
    if not isinstance(name, str) or not PROVIDER_RE.match(name):
        raise StorageError("invalid ExtStorage provider name %r" % (name,))
    directory = next((os.path.join(base, name) for base in search_path
                      if os.path.isdir(os.path.join(base, name))), None)
    if directory is None:
        raise StorageError("ExtStorage provider %s not found in %s"
                           % (name, ":".join(search_path) or "(empty search path)"))
    if "=" in directory:
        raise StorageError("ExtStorage provider %s: its path %s contains '='"
                           % (name, directory))
    scripts = {script: _check_file(name, directory, script, required, True)
               for script, (required, _vars) in EXT_SCRIPTS.items()}
    params_path = _check_file(name, directory, PARAMETERS_FILE, True, False) or ""
    try:
        with open(params_path) as handle:
            lines = handle.read().splitlines()
    except OSError as err:
        raise StorageError("ExtStorage provider %s: cannot read %s: %s"
                           % (name, params_path, err.strerror)) from err
    parameters = []
    for line in lines:
        if line.strip():
            pname, _sep, description = line.strip().partition(" ")
            parameters.append((pname, description.strip()))
    return Provider(name=name, path=directory, scripts=scripts, parameters=parameters)


def diagnose(search_path: Sequence[str]) -> list[dict[str, Any]]:
    """Every provider directory on the search path: name, path, valid, error, parameters
    (for ``gnt-storage diagnose``); a name shadowed by an earlier directory is skipped."""
    seen: dict[str, dict[str, Any]] = {}
    for base in search_path:
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        for name in names:
            if name in seen or not os.path.isdir(os.path.join(base, name)):
                continue
            entry: dict[str, Any] = {"name": name, "path": os.path.join(base, name),
                                     "valid": False, "error": "", "parameters": []}
            try:
                provider = find_provider(name, [base])
                entry.update(valid=True, parameters=[list(p) for p in provider.parameters])
            except StorageError as err:
                entry["error"] = str(err)
            seen[name] = entry
    return list(seen.values())


def sanitize_metadata(text: str) -> str:
    """Metadata as the setinfo script may get it (Ganeti's rule): characters outside
    ``A-Za-z0-9_+.-`` become ``_`` (a leading ``-`` too), at most 128 characters."""
    text = re.sub(r"[^-A-Za-z0-9_+.]", "_", text)
    if text.startswith("-"):
        text = "_" + text[1:]
    return text[:METADATA_MAX]


def validate_volume(name: Any) -> str:
    """A volume name providers can use safely (Ganeti makes ``<uuid>.ext.disk<N>``)."""
    if not isinstance(name, str) or not VOLUME_RE.match(name):
        raise StorageError("invalid ExtStorage volume name %r: use A-Z a-z 0-9 _ . + : - "
                           "(no leading . or -, at most 255)" % (name,))
    return name


class ExtBackend(StorageBackend, CommandBackend):
    """Volumes of one provider with one set of ExtStorage parameters; a device name is
    the volume name (``VOL_NAME``)."""

    kind = "ext"

    def __init__(self, runner: Runner, provider: str, search_path: Sequence[str],
                 params: dict[str, Any] | None = None, cname: str | None = None,
                 uuid: str | None = None) -> None:
        CommandBackend.__init__(self, runner)
        self.provider = find_provider(provider, search_path)
        self.params = dict(params or {})
        declared = [p for p, _desc in self.provider.parameters]
        for pname, value in self.params.items():
            if not isinstance(pname, str) or not PARAM_RE.match(pname):
                raise StorageError("ExtStorage provider %s: invalid parameter name %r"
                                   % (provider, pname))
            if pname not in declared:
                raise StorageError("ExtStorage provider %s does not declare parameter %s "
                                   "(it has: %s)" % (provider, pname,
                                                     ", ".join(declared) or "none"))
            if "\0" in str(value):
                raise StorageError("ExtStorage provider %s: parameter %s holds a NUL byte"
                                   % (provider, pname))
        self.cname = cname
        self.uuid = uuid

    def _what(self, name: str) -> str:
        return "ExtStorage volume %s (provider %s)" % (name, self.provider.name)

    def environment(self, script: str, name: str, **values: Any) -> list[str]:
        """The ``NAME=value`` list a script gets: the common variables, then its own."""
        env = ["VOL_NAME=%s" % validate_volume(name)]
        if self.cname is not None:
            env.append("VOL_CNAME=%s" % self.cname)
        if self.uuid is not None:
            env.append("VOL_UUID=%s" % self.uuid)
        env += ["EXTP_%s=%s" % (pname.upper(), value)
                for pname, value in sorted(self.params.items())]
        for variable in EXT_SCRIPTS[script][1]:
            if values.get(variable) is None:
                raise StorageError("%s: the %s script needs %s"
                                   % (self._what(name), script, variable))
            env.append("%s=%s" % (variable, values[variable]))
        return env

    def argv(self, script: str, name: str, **values: Any) -> list[str] | None:
        """How a script runs (None when an optional script is not provided)."""
        path = self.provider.scripts[script]
        if path is None:
            return None
        return ([ENV_TOOL, "-i", "-C", self.provider.path] + list(SCRIPT_ENV)
                + self.environment(script, name, **values) + [path])

    def _script(self, script: str, name: str, outcome: ActionResult, action: str,
                check_mode: bool, **values: Any) -> None:
        argv = self.argv(script, name, **values)
        if argv is None:
            if EXT_SCRIPTS[script][0]:
                raise StorageError("%s: no %s script" % (self._what(name), script))
            return
        self.change(self._what(name), outcome, action, [argv], check_mode)

    def probe(self, name: str) -> DeviceState:
        """Attach the volume to learn whether it exists and where it is (runs ``attach``,
        which maps the volume; never call in check mode)."""
        argv = self.argv("attach", name)
        result = self.runner(argv or [])
        state = DeviceState(name=name, details={"provider": self.provider.name, "uris": []})
        if result.rc != 0:
            state.details["attach_error"] = command_failure(self._what(name), argv or [],
                                                            result)
            return state
        lines = result.stdout.split("\n")
        path, uris = lines[0].strip(), [line.strip() for line in lines[1:] if line.strip()]
        if not path and not uris:
            raise StorageError("%s: attach printed neither a device path nor a URI"
                               % self._what(name))
        if path:
            try:
                st = os.stat(path)
            except OSError as err:
                raise StorageError("%s: attach printed %s, which does not exist (%s)"
                                   % (self._what(name), path, err.strerror)) from err
            if not os.path.isabs(path) or not (stat.S_ISBLK(st.st_mode)
                                               or stat.S_ISREG(st.st_mode)):
                raise StorageError("%s: attach printed %s, not a block device or file"
                                   % (self._what(name), path))
            state.size_mib = _size_mib(path, st)
            state.details["device_kind"] = "block" if stat.S_ISBLK(st.st_mode) else "file"
        state.exists = state.attached = True
        state.path = path or None
        state.details["uris"] = uris
        return state

    def info(self, name: str) -> DeviceState:
        """Attach and report (see :meth:`probe`)."""
        return self.probe(name)

    def create(self, name: str, size_mib: int, check_mode: bool = False,
               **options: Any) -> ActionResult:
        """Create the volume unless attaching it works; then it is attached."""
        positive_size(self._what(name), size_mib)
        validate_volume(name)
        outcome = ActionResult(state=DeviceState(name=name))
        if check_mode:
            outcome.actions.append("create %d MiB unless the volume exists (not probed in "
                                   "check mode)" % size_mib)
            outcome.state = DeviceState(name=name, exists=True, attached=True,
                                        size_mib=size_mib)
            return outcome
        state = self.probe(name)
        if state.exists:
            return ActionResult(state=state)
        self._script("create", name, outcome, "created %d MiB" % size_mib, False,
                     VOL_SIZE=size_mib)
        outcome.state = self._attached(name)
        return outcome

    def _attached(self, name: str) -> DeviceState:
        state = self.probe(name)
        if not state.exists:
            raise StorageError(state.details["attach_error"])
        return state

    def attach(self, name: str, check_mode: bool = False) -> ActionResult:
        """Map the volume; reported as a change (the interface cannot say whether it was
        mapped before)."""
        outcome = ActionResult(state=DeviceState(name=name, exists=True, attached=True))
        outcome.actions.append("attached")
        if not check_mode:
            outcome.state = self._attached(name)
        return outcome

    def detach(self, name: str, check_mode: bool = False) -> ActionResult:
        outcome = ActionResult(state=DeviceState(name=name, exists=True))
        self._script("detach", name, outcome, "detached", check_mode)
        return outcome

    def remove(self, name: str, check_mode: bool = False) -> ActionResult:
        """Detach and remove the volume; a volume that cannot be attached is gone."""
        outcome = ActionResult(state=DeviceState(name=name))
        if check_mode:
            outcome.actions.append("detach and remove unless the volume is gone (not probed "
                                   "in check mode)")
            return outcome
        if not self.probe(name).exists:
            return outcome
        self._script("detach", name, outcome, "detached", False)
        self._script("remove", name, outcome, "removed", False)
        return outcome

    def grow(self, name: str, size_mib: int, check_mode: bool = False,
             current_mib: int | None = None) -> ActionResult:
        """Grow from ``current_mib`` (the size in the cluster config, as Ganeti passes it
        in VOL_SIZE) to ``size_mib``; equal sizes change nothing."""
        positive_size(self._what(name), size_mib)
        if current_mib is None:
            raise StorageError("%s: growing needs the current size" % self._what(name))
        outcome = ActionResult(state=DeviceState(name=name, exists=True,
                                                 size_mib=current_mib))
        if not check_grow(self._what(name), current_mib, size_mib):
            return outcome
        self._script("grow", name, outcome, "grown from %d MiB to %d MiB"
                     % (current_mib, size_mib), check_mode, VOL_SIZE=current_mib,
                     VOL_NEW_SIZE=size_mib)
        outcome.state.size_mib = size_mib
        return outcome

    def setinfo(self, name: str, metadata: str, check_mode: bool = False) -> ActionResult:
        """Hand the volume's metadata (sanitized) to the setinfo script."""
        outcome = ActionResult(state=DeviceState(name=name, exists=True))
        text = sanitize_metadata(metadata)
        self._script("setinfo", name, outcome, "set metadata %s" % text, check_mode,
                     VOL_METADATA=text)
        return outcome

    def snapshot(self, name: str, snap_name: str, size_mib: int,
                 check_mode: bool = False) -> ActionResult:
        if self.provider.scripts["snapshot"] is None:
            raise NotSupportedError("%s: the provider has no snapshot script"
                                    % self._what(name))
        validate_volume(snap_name)
        outcome = ActionResult(state=DeviceState(name=snap_name, exists=True,
                                                 size_mib=size_mib))
        self._script("snapshot", name, outcome, "snapshot %s of %d MiB" % (snap_name,
                                                                           size_mib),
                     check_mode, VOL_SNAPSHOT_NAME=snap_name, VOL_SNAPSHOT_SIZE=size_mib)
        return outcome

    def open(self, name: str, exclusive: bool = True, check_mode: bool = False
             ) -> ActionResult:
        """Run the optional open script (skipped when the provider has none)."""
        outcome = ActionResult(state=DeviceState(name=name, exists=True, is_open=True))
        self._script("open", name, outcome, "opened", check_mode,
                     VOL_OPEN_EXCLUSIVE=str(bool(exclusive)))
        return outcome

    def close(self, name: str, check_mode: bool = False) -> ActionResult:
        """Run the optional close script (skipped when the provider has none)."""
        outcome = ActionResult(state=DeviceState(name=name, exists=True))
        self._script("close", name, outcome, "closed", check_mode)
        return outcome

    def verify(self) -> list[str]:
        """Problems of the provider on this node (it was checked when this backend was
        made, so none unless its files changed since)."""
        try:
            find_provider(self.provider.name, [os.path.dirname(self.provider.path)])
        except StorageError as err:
            return [str(err)]
        return []


def _size_mib(path: str, st: os.stat_result) -> int:
    if stat.S_ISREG(st.st_mode):
        return (st.st_size + 2**20 - 1) // 2**20
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return 0
    try:
        return os.lseek(fd, 0, os.SEEK_END) // 2**20
    finally:
        os.close(fd)
