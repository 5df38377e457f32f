"""Read-only questions answered on a node itself: ``python -m gnt.nodes.agent info|domains``.

The master runs these in-process for itself and over SSH (:mod:`gnt.nodes.ssh`) for other nodes;
every node has the gnt package installed at the same path, as every Ganeti node has Ganeti.
Output is one JSON document on stdout; errors go to stderr with exit code 1.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any

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


def verify_info(storage_dirs: list[str]) -> dict[str, Any]:
    """What ``gnt-cluster verify`` checks on a node: storage dirs, the disk files in them,
    bridges, and the node's copies of the config and ssconf (serials, master)."""
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


def _existing_parent(directory: str) -> str:
    import os

    while directory and not os.path.isdir(directory):
        directory = os.path.dirname(directory)
    return directory or "/"


def command_line(action: str, uri: str, storage_dir: str | None = None,
                 extra_dirs: list[str] | None = None, path: str | None = None,
                 search_path: list[str] | None = None) -> str:
    """The shell command running ``action`` on a node (same interpreter path everywhere)."""
    argv = [sys.executable, "-m", "gnt.nodes.agent", action, "--uri", uri]
    for directory in [storage_dir] + list(extra_dirs or []):
        if directory:
            argv += ["--storage-dir", directory]
    if path:
        argv += ["--path", path]
    for directory in search_path or []:
        argv += ["--search-path", directory]
    return " ".join(shlex.quote(arg) for arg in argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m gnt.nodes.agent``."""
    parser = argparse.ArgumentParser(prog="gnt.nodes.agent")
    parser.add_argument("action", choices=("info", "domains", "verify", "exports",
                                           "export-info", "os-diagnose"))
    parser.add_argument("--uri", default="qemu:///system")
    parser.add_argument("--path", default="")
    parser.add_argument("--storage-dir", action="append", default=[])
    parser.add_argument("--search-path", action="append", default=[])
    args = parser.parse_args(argv)
    try:
        if args.action == "info":
            result: Any = live_info(args.uri, args.storage_dir[0] if args.storage_dir else None)
        elif args.action == "verify":
            result = verify_info(args.storage_dir)
        elif args.action == "exports":
            from gnt.core import settings

            result = list_exports(str(settings.paths().export_dir))
        elif args.action == "export-info":
            result = export_info(args.path)
        elif args.action == "os-diagnose":
            result = os_diagnose(args.search_path)
        else:
            result = dict(load_module_util("libvirt_domain").list_domains(args.uri))
    except Exception as err:  # report any failure as one line for the master's error message
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
