# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module_utils conventions (see docs/node-primitives.md)
"""The cluster's bridges made again when a node boots: a systemd unit per cluster.

``gnt-cluster init`` and ``gnt-node add`` make the Linux bridges the cluster's NICs use with
``ip link``, which the kernel forgets when the node reboots. On a node booted by systemd,
``node_prepare`` also writes ``gnt-bridges-<id>.service`` (enabled for ``multi-user.target``,
ordered after ``network.target`` and before libvirt), a oneshot unit that makes each missing
bridge again at boot and brings every one up. ``id`` comes from the cluster's OS directory
(``GNT_ROOT/...``, the same path on all its nodes), so clusters sharing a machine under
other roots keep a unit each. A node not booted by systemd (``/run/systemd/system`` missing:
a container, a lab namespace node) gets no unit. An empty bridge list removes the unit.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import re
import subprocess

SYSTEMD_DIR = "/etc/systemd/system"
BOOTED_DIR = "/run/systemd/system"   # exists when systemd is PID 1 (sd_booted)
WANTED_BY = "multi-user.target"
# an interface name the kernel takes (at most 15 bytes) with nothing systemd or sh expands
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")

# Run by sh with the bridges as arguments. A missing bridge is made, every bridge brought up;
# an interface of that name that is not a bridge is named on stderr and the unit fails, after
# the other bridges are done.
_SCRIPT = (
    'rc=0; '
    'for b in "$@"; do '
    'if [ ! -e "/sys/class/net/$b" ]; then '
    'ip link add name "$b" type bridge || { rc=1; continue; }; '
    'elif [ ! -d "/sys/class/net/$b/bridge" ]; then '
    'echo "interface $b exists and is not a bridge" >&2; rc=1; continue; fi; '
    'ip link set dev "$b" up || rc=1; '
    'done; exit $rc'
)


class BootBridgesError(Exception):
    """A bad scope or bridge name, or the unit could not be written."""


def unit_name(scope):
    """The unit of the cluster whose OS directory is ``scope`` (an absolute path)."""
    if not scope or not scope.startswith("/"):
        raise BootBridgesError("invalid scope %r: the cluster's OS directory, an absolute path"
                               % (scope,))
    digest = hashlib.sha256(scope.rstrip("/").encode("utf-8")).hexdigest()[:12]
    return "gnt-bridges-%s.service" % digest


def check_names(bridges):
    """``bridges`` as a sorted list without duplicates; BootBridgesError naming a bad one."""
    for name in bridges:
        if not _NAME.match(name or ""):
            raise BootBridgesError("invalid bridge name %r: a boot unit takes 1-15 of the"
                                   " characters A-Z a-z 0-9 _ . : -" % (name,))
    return sorted(set(bridges))


def _systemd_escape(text):
    """``text`` with systemd's specifier (%) and variable ($) expansion turned off."""
    return text.replace("%", "%%").replace("$", "$$")


def unit_text(scope, bridges):
    """The unit file making ``bridges`` at boot for the cluster of ``scope``."""
    names = check_names(bridges)
    script = _systemd_escape(_SCRIPT)   # no single quote or backslash in it: quoted as is
    return "\n".join([
        "# Made by gnt.cluster (node_prepare) for the cluster of %s: the Linux" % scope,
        "# bridges its instances' NICs use, made again at boot (ip link: the kernel forgets them).",
        "# Rewritten by gnt-node add --readd; removed by gnt-cluster destroy.",
        "[Unit]",
        "Description=gnt.cluster bridges %s" % " ".join(names),
        "After=network.target",
        "Before=libvirtd.service virtqemud.service",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        "ExecStart=/bin/sh -c '%s' gnt-bridges %s" % (script, " ".join(names)),
        "",
        "[Install]",
        "WantedBy=%s" % WANTED_BY,
        "",
    ])


def script():
    """The shell script the unit runs (as sh sees it), for tests."""
    return _SCRIPT


def booted(booted_dir=BOOTED_DIR):
    """Whether systemd is this node's init (its runtime directory exists)."""
    return os.path.isdir(booted_dir)


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def _write(path, text):
    tmp = path + ".gnt-tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


def apply(scope, bridges, systemd_dir=SYSTEMD_DIR, check_mode=False):
    """Make the unit of the cluster of ``scope`` list ``bridges`` and be enabled (no
    bridges: remove it). Returns (changed, unit path)."""
    name = unit_name(scope)
    path = os.path.join(systemd_dir, name)
    wants_dir = os.path.join(systemd_dir, WANTED_BY + ".wants")
    link = os.path.join(wants_dir, name)
    if not bridges:
        return remove(scope, systemd_dir, check_mode), path
    text = unit_text(scope, bridges)
    enabled = os.path.islink(link) and os.readlink(link) == path
    if _read(path) == text and enabled:
        return False, path
    if check_mode:
        return True, path
    try:
        _write(path, text)
        if not os.path.isdir(wants_dir):
            os.makedirs(wants_dir, 0o755)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(path, link)
    except OSError as err:
        raise BootBridgesError("cannot write the boot unit %s: %s" % (path, err)) from err
    return True, path


def remove(scope, systemd_dir=SYSTEMD_DIR, check_mode=False):
    """Remove the unit of the cluster of ``scope`` and its enablement; True if there was
    one."""
    name = unit_name(scope)
    paths = [os.path.join(systemd_dir, WANTED_BY + ".wants", name),
             os.path.join(systemd_dir, name)]
    present = [p for p in paths if os.path.lexists(p)]
    if check_mode or not present:
        return bool(present)
    try:
        for item in present:
            os.unlink(item)
    except OSError as err:
        raise BootBridgesError("cannot remove the boot unit %s: %s" % (paths[1], err)) from err
    return True


def daemon_reload(run=subprocess.run):
    """Let a running systemd see the changed unit (it reads units again at boot anyway);
    returns an error text, or None."""
    try:
        proc = run(["systemctl", "daemon-reload"], stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT, universal_newlines=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as err:
        return str(err)
    if proc.returncode != 0:
        return (proc.stdout or "").strip() or "exit %d" % proc.returncode
    return None


def ensure(scope, bridges, state="present", systemd_dir=SYSTEMD_DIR, check_mode=False,
           reload=daemon_reload):
    """Make the unit of the cluster of ``scope`` as ``state`` and ``bridges`` say (see
    :func:`apply` and :func:`remove`). Returns (changed, unit path, reload error or None).

    ``systemctl daemon-reload`` (``reload``) runs only when a unit file that was there before
    changed or went: systemd may have loaded that one. A unit new on the node needs none
    (systemd loads a unit file the first time something asks for it, and this one acts at
    boot), and a reload costs seconds on a small node."""
    path = os.path.join(systemd_dir, unit_name(scope))
    existed = os.path.lexists(path)
    if state == "absent":
        changed = remove(scope, systemd_dir, check_mode)
    else:
        changed, path = apply(scope, bridges, systemd_dir, check_mode)
    error = None
    if changed and existed and not check_mode:
        error = reload()
    return changed, path, error
