"""Questions answered on a node itself: ``python -m gnt.nodes.agent CALL``. All read-only but
the per-move X509 keys (:mod:`gnt.nodes.x509keys`), which a node makes and removes for itself.

The master runs these in-process for itself and over SSH (:mod:`gnt.nodes.ssh`) for other nodes;
every node has the gnt package installed at the same path, as every Ganeti node has Ganeti.
Output is one JSON document on stdout; errors go to stderr with exit code 1.

A node call starts a fresh interpreter on the node, so this module imports what every call
needs only; a call's own modules are imported when it runs (:func:`_deferred`). Under TCG (the
lab's guest nodes) the imports were half of a call's 3 s.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shlex
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

from gnt.core.collection import load_module_util


def live_info(uri: str, storage_dir: str | None) -> dict[str, Any]:
    """Memory (from /proc/meminfo: libvirt can report a container's view), CPUs, memory used
    by running domains, hypervisor version and file-storage space of this node."""
    facts = load_module_util("node_facts")
    total, free = facts.memory_mib()
    info: dict[str, Any] = {"mtotal": int(total), "mfree": int(free),
                            "ctotal": int(facts.cpu_count()), "cnodes": 1, "csockets": 1}
    domains = dict(load_module_util("libvirt_domain").list_domains(uri))
    used = sum(int(dom["memory_mib"]) for dom in domains.values()
               if dom["state"] in ("running", "paused", "blocked"))
    info["mnode"] = max(0, int(total) - int(free) - used)
    info["domains"] = domains
    try:
        hv = facts.hypervisor_info(uri)
        info["hv_version"] = f"{hv['type']} {hv['version']} (libvirt {hv['libvirt_version']})"
    except Exception as err:  # libvirt's own error types
        info["hv_version"] = None
        info["hv_error"] = str(err)
    if storage_dir:
        usage = facts.storage_usage([_existing_parent(storage_dir)])
        only = next(iter(usage.values()))
        info["dtotal"], info["dfree"] = only["total_mib"], only["free_mib"]
    return info


def lv_list(vgs: list[str]) -> dict[str, Any]:
    """``vg/lv`` -> size_mib, active, open of the logical volumes in ``vgs`` here."""
    storage = load_module_util("storage.base")
    lvm = load_module_util("storage.lvm")
    return {f"{lv['vg']}/{lv['name']}": {"size_mib": int(lv["size_mib"]),
                                         "active": bool(lv["active"]), "open": bool(lv["open"])}
            for lv in lvm.list_lvs(storage.subprocess_runner, vgs)}


def vg_info(vg: str) -> dict[str, Any]:
    """``vg_total``/``vg_free`` (MiB) of volume group ``vg`` here, or ``vg_error``."""
    storage = load_module_util("storage.base")
    lvm = load_module_util("storage.lvm")
    try:
        found = lvm.list_vgs(storage.subprocess_runner, [vg])
    except Exception as err:  # StorageError, or a bad name: the message says which
        return {"vg_error": str(err)}
    if not found:
        return {"vg_error": f"volume group {vg} not found"}
    return {"vg_total": int(found[0]["size_mib"]), "vg_free": int(found[0]["free_mib"])}


def verify_info(storage_dirs: list[str], vgs: list[str] | None = None,
                drbd: str = "") -> dict[str, Any]:
    """What ``gnt-cluster verify`` checks on a node: storage dirs, the disk files in them,
    bridges, the node's copies of the config and ssconf (serials, master), and its LVM volumes
    of ``vgs`` and (``drbd`` non-empty) DRBD state
    (:func:`gnt.nodes.storagecalls.verify_storage`)."""
    import os

    from gnt.core import settings, ssconf

    facts = load_module_util("node_facts")
    result: dict[str, Any] = {"dirs": {}, "files": [], "bridges": facts.bridges()}
    for directory in storage_dirs:
        result["dirs"][directory] = os.path.isdir(directory)
        if not os.path.isdir(directory):
            continue
        for inst_dir in sorted(os.listdir(directory)):
            full = os.path.join(directory, inst_dir)
            if os.path.isdir(full):
                result["files"] += [os.path.join(full, name) for name in sorted(os.listdir(full))]
    try:
        with open(settings.paths().config_file, encoding="utf-8") as handle:
            result["config_serial"] = int(json.load(handle)["serial_no"])
    except (OSError, ValueError, KeyError):
        result["config_serial"] = None
    result["ssconf_master_node"] = ssconf.read("master_node")
    serial = ssconf.read("config_serial")
    result["ssconf_serial"] = int(serial) if serial and serial.isdigit() else None
    from gnt.nodes.storagecalls import verify_storage

    result.update(verify_storage(list(vgs or []), bool(drbd)))
    return result


def list_exports(export_dir: str) -> dict[str, Any]:
    """Exports in ``export_dir``: name -> {"complete": has config.ini}. Hidden entries are
    exports still being written."""
    import os

    from gnt.config.exportcfg import CONFIG_FILE

    result: dict[str, Any] = {}
    try:
        names = sorted(os.listdir(export_dir))
    except FileNotFoundError:
        return result
    for name in names:
        path = os.path.join(export_dir, name)
        if name.startswith(".") or not os.path.isdir(path):
            continue
        config = os.path.join(path, CONFIG_FILE)
        complete = os.path.isfile(config)
        result[name] = {"complete": complete,
                        "timestamp": _export_timestamp(config) if complete else None}
    return result


def _export_timestamp(config_path: str) -> int | None:
    """``[export] timestamp`` of a config.ini (its mtime when it has none or is corrupt)."""
    import os

    from gnt.config.exportcfg import parse
    from gnt.core.errors import OpPrereqError

    try:
        with open(config_path, encoding="utf-8", errors="replace") as handle:
            text = handle.read(1 << 20)
        mtime = int(os.stat(config_path).st_mtime)
    except OSError:
        return None
    try:
        return parse(text, config_path).timestamp or mtime
    except OpPrereqError:
        return mtime


def export_info(path: str) -> dict[str, Any]:
    """What the export directory ``path`` holds: ``{"exists", "config"`` (config.ini text
    or None), ``"files"`` (name -> size in bytes)}."""
    import os

    from gnt.config.exportcfg import CONFIG_FILE

    if not os.path.isdir(path):
        return {"exists": False, "config": None, "files": {}}
    files = {}
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.isfile(full):
            files[name] = os.path.getsize(full)
    config = None
    if CONFIG_FILE in files:
        with open(os.path.join(path, CONFIG_FILE), encoding="utf-8", errors="replace") as fh:
            config = fh.read(1 << 20)
    return {"exists": True, "config": config, "files": files}


def os_diagnose(search_path: list[str]) -> dict[str, Any]:
    """Every OS definition this node sees in ``search_path`` (``os_interface.diagnose``)."""
    return {"oses": list(load_module_util("os_interface").diagnose(search_path))}


def ext_diagnose(search_path: list[str]) -> dict[str, Any]:
    """Every ExtStorage provider this node sees in ``search_path`` (``storage.ext.diagnose``:
    name, path, valid, error, parameters)."""
    return {"providers": list(load_module_util("storage.ext").diagnose(search_path))}


def _existing_parent(directory: str) -> str:
    import os

    while directory and not os.path.isdir(directory):
        directory = os.path.dirname(directory)
    return directory or "/"


def list_domains(uri: str) -> dict[str, Any]:
    """The libvirt domains of this node: name -> state, memory_mib, ..."""
    return dict(load_module_util("libvirt_domain").list_domains(uri))


def exports_here() -> dict[str, Any]:
    """:func:`list_exports` of this node's export directory."""
    from gnt.core import settings

    return list_exports(str(settings.paths().export_dir))


def join_check(uri: str, storage_dir: str | None = None) -> dict[str, Any]:
    """What ``gnt-node add`` asks a node before it joins: its :func:`live_info` and the path
    of a cluster configuration it already has (None when it has none)."""
    import os

    from gnt.core import settings

    config = settings.paths().config_file
    return {"info": live_info(uri, storage_dir),
            "cluster_config": str(config) if os.path.exists(config) else None}


# -- the calls a node answers: one table, read by both ends ---------------------------------
class Arg(NamedTuple):
    """One argument of a node call: a keyword of the function and a ``--flag`` of the agent's
    command line (``many``: a list, the flag repeated per item)."""

    name: str
    many: bool = False
    default: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


class NodeCall(NamedTuple):
    """A question a node answers (Ganeti's rpc_defs.py in spirit): its name on the agent's
    command line, the function that answers it on the node, its arguments and how long the
    master waits for the answer."""

    name: str
    func: Callable[..., Any]
    args: tuple[Arg, ...] = ()
    timeout: float = 30.0

    def local(self, **kwargs: Any) -> Any:
        """Answer on this machine (the master asking itself)."""
        return self.func(**self._checked(kwargs))

    def argv(self, **kwargs: Any) -> list[str]:
        """The agent's command line asking this on a node (same interpreter path there)."""
        return [sys.executable, "-m", "gnt.nodes.agent", *self.call_args(**kwargs)]

    def call_args(self, **kwargs: Any) -> list[str]:
        """The arguments of :func:`main` asking this (the call's name, then its flags)."""
        args = [self.name]
        checked = self._checked(kwargs)
        for arg in self.args:
            value = checked.get(arg.name)
            for item in (value or []) if arg.many else ([] if value is None else [value]):
                args += [arg.flag, str(item)]
        return args

    def _checked(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        known = {arg.name for arg in self.args}
        unknown = set(kwargs) - known
        if unknown:
            raise TypeError(f"node call {self.name} has no argument(s) {sorted(unknown)}")
        return {arg.name: kwargs.get(arg.name, [] if arg.many else arg.default)
                for arg in self.args}


def _deferred(module: str, name: str) -> Callable[..., Any]:
    """``module.name``, imported when the call runs (see the module docstring)."""
    def call(**kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(**kwargs)

    call.__qualname__ = call.__name__ = name
    call.__doc__ = f"{module}.{name}, imported when called."
    return call


def x509_create_here(validity: str | None) -> list[str]:
    """A new per-move X509 key here (:func:`gnt.nodes.x509keys.create`; without ``validity``,
    the longest Ganeti allows)."""
    from gnt.nodes import x509keys

    return x509keys.create(validity) if validity else x509keys.create()


def powercycle_here(delay: str | None, master_boot_id: str, is_master: str) -> str:
    """Reboot this node after ``delay`` seconds (:func:`gnt.nodes.powercycle.schedule`;
    without ``delay``, its default)."""
    from gnt.nodes import powercycle

    return powercycle.schedule(int(delay) if delay else powercycle.DEFAULT_DELAY,
                               master_boot_id, is_master == "yes")


_URI = Arg("uri", default="qemu:///system")
_STORAGE = "gnt.nodes.storagecalls"
CALLS: dict[str, NodeCall] = {call.name: call for call in (
    NodeCall("info", live_info, (_URI, Arg("storage_dir"))),
    NodeCall("domains", list_domains, (_URI,)),
    NodeCall("verify", verify_info, (Arg("storage_dirs", many=True), Arg("vgs", many=True),
                                     Arg("drbd", default=""))),
    NodeCall("ssh-clutter", _deferred("gnt.nodes.sshclutter", "multiple_keys"),
             (Arg("node_names", many=True),)),
    NodeCall("exports", exports_here),
    NodeCall("export-info", export_info, (Arg("path", default=""),)),
    NodeCall("os-diagnose", os_diagnose, (Arg("search_path", many=True),)),
    NodeCall("ext-diagnose", ext_diagnose, (Arg("search_path", many=True),)),
    NodeCall("join-check", join_check, (_URI, Arg("storage_dir")), timeout=60.0),
    NodeCall("vg-info", vg_info, (Arg("vg", default=""),)),
    NodeCall("lv-list", lv_list, (Arg("vgs", many=True),)),
    NodeCall("storage-list", _deferred(_STORAGE, "storage_list"),
             (Arg("storage_type", default=""), Arg("path"))),
    NodeCall("volumes", _deferred(_STORAGE, "volumes")),
    NodeCall("drbd-status", _deferred(_STORAGE, "drbd_status")),
    NodeCall("x509-create", x509_create_here, (Arg("validity"),)),
    NodeCall("x509-remove", _deferred("gnt.nodes.x509keys", "remove"),
             (Arg("key_name", default=""),)),
    NodeCall("powercycle", powercycle_here, (Arg("delay"),
                                             Arg("master_boot_id", default=""),
                                             Arg("is_master", default="no"))),
)}


def command_line(name: str, **kwargs: Any) -> str:
    """The shell command asking node call ``name`` (see :data:`CALLS`) on a node."""
    return " ".join(shlex.quote(arg) for arg in CALLS[name].argv(**kwargs))


def warm_request(name: str, **kwargs: Any) -> tuple[str, bytes]:
    """The shell command and its stdin asking node call ``name`` through the warm interpreter
    of the node's Python (same path there): a client of :mod:`gnt.nodes.modexec` hands a
    script calling :func:`main` to the server of that Python, whose fork has the standard
    library parts and libvirt imported already (a new interpreter under TCG spends 1-3 s on
    them). The answer, exit code and errors are those of :func:`command_line`'s command; with
    no server to be had, the client runs the script in a new interpreter."""
    from gnt.nodes import modexec, relay  # the master's side only

    code = modexec.client_code(modexec.__file__)
    script = ("import sys\nfrom gnt.nodes.agent import main\n"
              f"sys.exit(main({CALLS[name].call_args(**kwargs)!r}))\n")
    # a server this client starts links its socket there, for relayed calls (gnt.nodes.relay)
    where = f"{modexec.RELAY_DIR_ENV}={shlex.quote(relay.relay_dir())}"
    return f"{where} {shlex.quote(sys.executable)} -I -c {shlex.quote(code)}", script.encode()


def parser() -> argparse.ArgumentParser:
    """The agent's command line, built from :data:`CALLS` (one sub-command per call)."""
    top = argparse.ArgumentParser(prog="gnt.nodes.agent")
    subs = top.add_subparsers(dest="call", required=True)
    for call in CALLS.values():
        sub = subs.add_parser(call.name)
        for arg in call.args:
            if arg.many:
                sub.add_argument(arg.flag, dest=arg.name, action="append", default=[])
            else:
                sub.add_argument(arg.flag, dest=arg.name, default=arg.default)
    return top


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m gnt.nodes.agent CALL [--ARG VALUE ...]``."""
    args = vars(parser().parse_args(argv))
    call = CALLS[args.pop("call")]
    try:
        result = call.local(**args)
    except Exception as err:  # report any failure as one line for the master's error message
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
