"""``gnt-instance info`` and ``gnt-instance console`` helpers (formatting, console access)."""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

from gnt.cli._output import format_generic_info, format_params_info, format_time, format_unit
from gnt.core.errors import ECODE_NOENT, OpExecError, OpPrereqError

FILE_TEMPLATES = ("file", "sharedfile")


def _disk_status(status: Any) -> str:
    """A primary/secondary device status (Ganeti's ``[path, major, minor, ...]`` or a path)."""
    if not status:
        return "not active"
    if isinstance(status, (list, tuple)):
        path = status[0]
        major = "N/A" if len(status) < 2 or status[1] is None else status[1]
        minor = "N/A" if len(status) < 3 or status[2] is None else status[2]
        return f"{path} ({major}:{minor})"
    return str(status)


def _format_disk(idx: int, disk: dict[str, Any], static: bool) -> list[tuple[str, Any]]:
    label = disk.get("iv_name") or f"disk/{idx}"
    size = disk.get("size")
    nice_size = format_unit(size, "h") if isinstance(size, int) else str(size)
    data: list[tuple[str, Any]] = [(label, f"{disk.get('dev_type')}, size {nice_size}")]
    if disk.get("spindles") is not None:
        data.append(("spindles", disk["spindles"]))
    data.append(("access mode", disk.get("mode", "rw")))
    logical_id = disk.get("logical_id")
    if logical_id is not None:
        if disk.get("dev_type") == "plain" and isinstance(logical_id, (list, tuple)):
            data.append(("logical_id", "/".join(map(str, logical_id))))
        else:
            data.append(("logical_id", str(logical_id)))
    if disk.get("pstatus"):
        data.append(("on primary", _disk_status(disk["pstatus"])))
    elif disk.get("path"):
        data.append(("on primary", str(disk["path"])))
    elif (not static and disk.get("dev_type") in FILE_TEMPLATES
          and isinstance(logical_id, (list, tuple)) and len(logical_id) == 2):
        data.append(("on primary", str(logical_id[1])))
    if disk.get("sstatus"):
        data.append(("on secondary", _disk_status(disk["sstatus"])))
    for key, title in (("name", "name"), ("uuid", "UUID")):
        if key in disk:
            data.append((title, str(disk[key])))
    return data


def _format_nic(idx: int, nic: dict[str, Any]) -> list[tuple[str, Any]]:
    data: list[tuple[str, Any]] = [(f"nic/{idx}", "")]
    for key, title in (("mac", "MAC"), ("ip", "IP"), ("mode", "mode"), ("link", "link"),
                       ("vlan", "vlan"), ("network", "network"), ("uuid", "UUID"),
                       ("name", "name")):
        if key in nic or key in ("mac", "ip", "mode", "link"):
            data.append((title, str(nic.get(key))))
    return data


def _format_nodes(inst: dict[str, Any]) -> list[Any]:
    primary: list[tuple[str, Any]] = [("primary", inst.get("pnode"))]
    if inst.get("pnode_group_name"):
        primary.append(("group", f"{inst['pnode_group_name']} (UUID"
                                 f" {inst.get('pnode_group_uuid')})"))
    return [primary, [("secondaries", ", ".join(inst.get("snodes") or []))]]


def instance_info_data(inst: dict[str, Any], static: bool = False) -> list[tuple[str, Any]]:
    """The ordered (key, value) structure of one instance's info block."""
    state = f"configured to be {inst.get('config_state')}"
    if inst.get("run_state"):
        state += f", actual state is {inst['run_state']}"
    os_params = format_params_info(inst.get("osparams"), inst.get("os_actual"))
    data: list[tuple[str, Any]] = [
        ("Instance name", inst.get("name")),
        ("UUID", inst.get("uuid")),
        ("Serial number", str(inst.get("serial_no"))),
        ("Creation time", format_time(inst.get("ctime"))),
        ("Modification time", format_time(inst.get("mtime"))),
        ("State", state),
        ("Nodes", _format_nodes(inst)),
        ("Operating system", inst.get("os")),
        ("Operating system parameters", os_params),
    ]
    if inst.get("network_port") is not None:
        data.append(("Allocated network port", str(inst["network_port"])))
    data.append(("Hypervisor", inst.get("hypervisor")))
    be_actual = dict(inst.get("be_actual") or {})
    if "maxmem" in be_actual:
        be_actual.setdefault("memory", be_actual["maxmem"])
    data.extend([
        ("Hypervisor parameters",
         format_params_info(inst.get("hvparams"), inst.get("hv_actual"))),
        ("Back-end parameters", format_params_info(inst.get("beparams"), be_actual)),
        ("NICs", [_format_nic(idx, nic) for idx, nic in enumerate(inst.get("nics") or [])]),
        ("Disk template", inst.get("disk_template")),
        ("Disks", [_format_disk(idx, disk, static)
                   for idx, disk in enumerate(inst.get("disks") or [])]),
    ])
    return data


def format_instances_info(result: dict[str, Any], static: bool = False) -> str:
    """The full ``gnt-instance info`` output for an OP_INSTANCE_QUERY_DATA result."""
    return format_generic_info([instance_info_data(inst, static) for inst in result.values()])


def console_command(console: dict[str, Any]) -> list[str]:
    """The ``virsh console`` command line for a console description."""
    cmd = ["virsh"]
    if console.get("uri"):
        cmd += ["-c", str(console["uri"])]
    cmd += ["console", str(console.get("name"))]
    return cmd


def do_console(name: str, console: Any, oper_state: Any, show_cmd: bool,
               target: Any = None) -> int:
    """Connect to (tty), print the command of (``--show-cmd``) or print the log of a console.

    On a terminal this replaces the process with ``virsh console`` (through ``ssh -t`` to
    ``target``, the primary node, when it is not this node); otherwise the console log file
    is copied to stdout (which is how non-interactive callers see the boot output).
    """
    if not console:
        if oper_state:
            raise OpExecError(f"Console information for instance {name} is unavailable")
        raise OpExecError(f"Instance {name} is not running, can't get console")
    cmd = console_command(console)
    interactive = sys.stdout.isatty() and sys.stdin.isatty() and bool(console.get("name"))
    if target is not None:
        from gnt.admin.remote import remote_argv  # SSH's set-up: for a console only

        cmd = remote_argv(target, cmd, tty=True)
    if show_cmd:
        sys.stdout.write(shlex.join(cmd) + "\n")
        return 0
    if interactive:
        sys.stdout.flush()
        try:
            os.execvp(cmd[0], cmd)
        except OSError as err:
            raise OpExecError(f"Connection to console of instance {name} failed: cannot run"
                              f" {cmd[0]}: {err.strerror}") from err
    log = console.get("log")
    if not log:
        raise OpExecError(f"Instance {name} has no console log")
    if target is not None:
        return _remote_log(name, target, str(log))
    try:
        with open(log, "rb") as handle:
            while chunk := handle.read(1 << 16):
                sys.stdout.buffer.write(chunk)
    except FileNotFoundError as err:
        raise OpPrereqError(f"Console log {log} of instance {name} does not exist",
                            ECODE_NOENT) from err
    except OSError as err:
        raise OpExecError(f"Cannot read console log {log} of instance {name}:"
                          f" {err.strerror}") from err
    sys.stdout.flush()
    return 0


def _remote_log(name: str, target: Any, log: str) -> int:
    """Copy the console log of ``name`` from its primary node ``target`` to stdout."""
    import subprocess

    from gnt.admin.remote import remote_argv  # SSH's set-up: for a console log only

    with subprocess.Popen(remote_argv(target, ["cat", "--", log], tty=False),
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        while chunk := proc.stdout.read(1 << 16):
            sys.stdout.buffer.write(chunk)
        errors = proc.stderr.read().decode(errors="replace").strip().splitlines()
    sys.stdout.flush()
    if proc.returncode != 0:
        raise OpExecError(f"Cannot read console log {log} of instance {name} on node"
                          f" {target.name}: {errors[-1] if errors else proc.returncode}")
    return 0
