# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""Facts about a node: memory, CPUs, hypervisor, storage, domains, bridges.

Each fact has its own small function so the coordinator and tests can call them directly
(paths are parameters, so tests can point them at fixtures). No Ansible import.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_domain import (
    DomainError,
    _libvirt,
    connect,
    list_domains,
    node_default_accel,
)


def memory_mib(meminfo="/proc/meminfo"):
    """Return ``(total_mib, free_mib)`` from ``/proc/meminfo``; free is ``MemAvailable``
    (``MemFree + Buffers + Cached`` on kernels without it)."""
    values = {}
    with open(meminfo) as handle:
        for line in handle:
            key, _sep, rest = line.partition(":")
            parts = rest.split()
            if parts:
                try:
                    values[key.strip()] = int(parts[0])  # kB
                except ValueError:
                    continue
    total = values.get("MemTotal", 0)
    if "MemAvailable" in values:
        free = values["MemAvailable"]
    else:
        free = values.get("MemFree", 0) + values.get("Buffers", 0) + values.get("Cached", 0)
    return total // 1024, free // 1024


def cpu_count():
    """Number of CPUs usable by this process (affinity), else online CPUs."""
    if hasattr(os, "sched_getaffinity"):
        try:
            return len(os.sched_getaffinity(0))
        except OSError:
            pass
    return os.cpu_count() or 1


def storage_usage(directories):
    """Return ``{dir: {"exists", "total_mib", "free_mib"}}`` (free for unprivileged users,
    i.e. ``f_bavail``) for each directory; a missing one reports zeros."""
    result = {}
    for directory in directories or []:
        try:
            st = os.statvfs(directory)
        except OSError:
            result[directory] = {"exists": False, "total_mib": 0, "free_mib": 0}
            continue
        result[directory] = {
            "exists": True,
            "total_mib": st.f_blocks * st.f_frsize // (1024 * 1024),
            "free_mib": st.f_bavail * st.f_frsize // (1024 * 1024),
        }
    return result


def bridges(sys_class_net="/sys/class/net"):
    """Names of the Linux bridges present on this node, sorted."""
    try:
        names = os.listdir(sys_class_net)
    except OSError:
        return []
    return sorted(n for n in names if os.path.isdir(os.path.join(sys_class_net, n, "bridge")))


def _version_string(number):
    major, rest = divmod(int(number), 1000000)
    minor, micro = divmod(rest, 1000)
    return "%d.%d.%d" % (major, minor, micro)


def hypervisor_info(uri):
    """Return ``{"uri", "type", "version", "libvirt_version"}`` of the hypervisor at ``uri``
    (the QEMU version as libvirt reports it). Raises ``DomainError`` if unreachable."""
    libvirt = _libvirt()
    conn = connect(uri)
    try:
        return {
            "uri": uri,
            "type": conn.getType(),
            "version": _version_string(conn.getVersion()),
            "libvirt_version": _version_string(conn.getLibVersion()),
        }
    except libvirt.libvirtError as err:
        raise DomainError("cannot query the hypervisor at %s: %s" % (uri, err)) from err
    finally:
        conn.close()


def module_process(proc="/proc", parent=None):
    """V(warm) when this process is a module run by the warm module interpreter (a child of
    a C(modexec.py --serve) server), else V(fresh) (an interpreter started for it)."""
    parent = os.getppid() if parent is None else parent
    try:
        with open("%s/%d/cmdline" % (proc, parent), "rb") as handle:
            args = handle.read().split(b"\0")
    except (OSError, ValueError):
        return "fresh"
    serving = any(arg.endswith(b"/modexec.py") for arg in args) and b"--serve" in args
    return "warm" if serving else "fresh"


def gather(uri, storage_dirs=None):
    """All facts of this node as one dict (see the ``node_info`` module's RETURN)."""
    total, free = memory_mib()
    return {
        "memory_total_mib": total,
        "memory_free_mib": free,
        "cpus": cpu_count(),
        "hypervisor": hypervisor_info(uri),
        "accel_default": node_default_accel(),
        "storage": storage_usage(storage_dirs),
        "domains": list_domains(uri),
        "bridges": bridges(),
        "module_process": module_process(),
    }
