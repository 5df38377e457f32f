# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""Crash-consistent snapshots of a running instance's file disks (``export --noshutdown``).

:func:`snapshot_disks` freezes every file disk of a running domain at one point in time: a
libvirt external disk-only snapshot without metadata, atomic over all disks, puts a qcow2
overlay ``<disk path><suffix>`` on top of each disk. The guest keeps running and writes into
the overlays; the original files (``base``) no longer change and can be read consistently.
:func:`commit_disks` undoes it: active block commit of each overlay into its base, pivot back
to the base (libvirt then restores the persistent definition too), remove the overlay. When
the domain stopped in between, the overlays are committed offline with ``qemu-img commit`` and
the persistent definition is pointed back at the raw bases.

The pure helpers (:func:`file_disks`, :func:`plan_snapshot`, :func:`plan_commit`,
:func:`snapshot_xml`, :func:`restore_definition_xml`) make the decisions and are unit-tested;
errors are :class:`SnapshotError` (a ``DomainError``) naming the domain, disk or file and the
cause.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import io
import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET

from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_domain import (
    DomainError,
    _is_active,
    _libvirt,
    lookup,
)

DEFAULT_SUFFIX = ".gnt-snap"

# Actions of commit_disks().
COMMITTED = "committed"
COMMITTED_OFFLINE = "committed_offline"

_POLL_INTERVAL = 0.05


class SnapshotError(DomainError):
    """A disk snapshot or commit that failed or was refused; names the object and the cause."""


def check_suffix(suffix):
    """Refuse an overlay suffix that could name the base itself or another directory."""
    if not suffix or "/" in suffix or suffix in (".", ".."):
        raise SnapshotError("invalid overlay suffix %r: it must be non-empty and contain no '/'"
                            % (suffix,))


def file_disks(xml_text):
    """Return the file disks of a domain XML: ``[{"target", "source", "format", "backing",
    "backing_format"}]`` for every ``<disk type='file' device='disk'>`` with a source file
    (cdroms, floppies, block/network disks and disks without a source are left out).
    ``backing`` is the first ``<backingStore>``'s source file, or ``None``."""
    root = ET.fromstring(xml_text)
    result = []
    for disk in root.findall("devices/disk"):
        if disk.get("type") != "file" or disk.get("device", "disk") != "disk":
            continue
        source = disk.find("source")
        target = disk.find("target")
        if source is None or not source.get("file") or target is None:
            continue
        driver = disk.find("driver")
        entry = {"target": target.get("dev"), "source": source.get("file"),
                 "format": driver.get("type") if driver is not None else None,
                 "backing": None, "backing_format": None}
        backing = disk.find("backingStore")
        if backing is not None and backing.find("source") is not None:
            entry["backing"] = backing.find("source").get("file")
            fmt = backing.find("format")
            entry["backing_format"] = fmt.get("type") if fmt is not None else None
        result.append(entry)
    return result


def disk_targets(xml_text):
    """Target names (``vda``, ``hdc``, ...) of every disk of a domain XML, any device type."""
    root = ET.fromstring(xml_text)
    return [t.get("dev") for t in root.findall("devices/disk/target") if t.get("dev")]


def _base_of(name, disk, suffix):
    """Base file of a disk that runs on its overlay; refuses a foreign backing chain."""
    base = disk["source"][:-len(suffix)]
    if disk["backing"] and disk["backing"] != base:
        raise SnapshotError("disk %s of domain %s runs on %s whose backing file is %s, not %s; "
                            "this is not an overlay of ours, check the disk by hand"
                            % (disk["target"], name, disk["source"], disk["backing"], base))
    return base


def plan_snapshot(name, disks, suffix=DEFAULT_SUFFIX, exists=os.path.exists):
    """Decide per disk (``disks`` from :func:`file_disks` of the live XML) what
    :func:`snapshot_disks` does: ``[{"target", "base", "overlay", "take"}]``; ``take`` is
    false for a disk already running on its overlay. A disk on its base whose overlay file
    exists anyway is refused (the file is never overwritten)."""
    plan = []
    for disk in disks:
        if disk["source"].endswith(suffix):
            plan.append({"target": disk["target"], "base": _base_of(name, disk, suffix),
                         "overlay": disk["source"], "take": False})
            continue
        overlay = disk["source"] + suffix
        if exists(overlay):
            raise SnapshotError("cannot snapshot disk %s of domain %s: the overlay file %s "
                                "already exists but the disk does not use it (left over from "
                                "an interrupted snapshot or commit?); check it and remove it"
                                % (disk["target"], name, overlay))
        plan.append({"target": disk["target"], "base": disk["source"], "overlay": overlay,
                     "take": True})
    return plan


def snapshot_xml(take, targets):
    """``<domainsnapshot>`` XML: an external qcow2 overlay for each disk of ``take`` (plan
    entries), ``snapshot='no'`` for every other disk target in ``targets``."""
    root = ET.Element("domainsnapshot")
    ET.SubElement(root, "description").text = "gnt.cluster crash-consistent disk snapshot"
    disks = ET.SubElement(root, "disks")
    overlays = dict((entry["target"], entry["overlay"]) for entry in take)
    for target in targets:
        if target in overlays:
            disk = ET.SubElement(disks, "disk", name=target, snapshot="external", type="file")
            ET.SubElement(disk, "driver", type="qcow2")
            ET.SubElement(disk, "source", file=overlays[target])
        else:
            ET.SubElement(disks, "disk", name=target, snapshot="no")
    return ET.tostring(root, encoding="unicode")


def plan_commit(name, active, live_disks, config_disks, suffix=DEFAULT_SUFFIX,
                exists=os.path.exists):
    """Decide what :func:`commit_disks` does: ``[{"target", "base", "overlay", "action",
    "in_definition"}]``.

    Running domain (``active``; ``live_disks`` from the live XML): every disk on its overlay
    is committed online (:data:`COMMITTED`); an overlay file next to a disk that runs on its
    base is refused (the guest wrote to the base since, committing it would lose data).
    Stopped domain (``config_disks`` from the persistent XML): every disk the definition
    points at an overlay (``in_definition``), and every existing overlay file of a disk on its
    base, is committed offline (:data:`COMMITTED_OFFLINE`).
    """
    plan = []
    for disk in (live_disks if active else config_disks):
        if disk["source"].endswith(suffix):
            base = _base_of(name, disk, suffix)
            if not active and not exists(disk["source"]):
                raise SnapshotError("the definition of domain %s uses the overlay %s for disk "
                                    "%s but that file does not exist; point the disk back at %s "
                                    "by hand" % (name, disk["source"], disk["target"], base))
            plan.append({"target": disk["target"], "base": base, "overlay": disk["source"],
                         "action": COMMITTED if active else COMMITTED_OFFLINE,
                         "in_definition": True})
        elif exists(disk["source"] + suffix):
            overlay = disk["source"] + suffix
            if active:
                raise SnapshotError("domain %s runs disk %s on its base %s, not on the overlay "
                                    "file %s next to it; the overlay is not in use and older "
                                    "than the guest's data (an interrupted commit?), check it "
                                    "and remove it" % (name, disk["target"], disk["source"],
                                                       overlay))
            plan.append({"target": disk["target"], "base": disk["source"], "overlay": overlay,
                         "action": COMMITTED_OFFLINE, "in_definition": False})
    return plan


def _register_prefixes(xml_text):
    """Keep the document's namespace prefixes (e.g. ``gnt:``) when ElementTree writes it."""
    for _event, (prefix, uri) in ET.iterparse(io.StringIO(xml_text), events=("start-ns",)):
        try:
            ET.register_namespace(prefix, uri)
        except ValueError:
            pass  # reserved prefix (ns0, ...): ElementTree picks its own


def restore_definition_xml(xml_text, overlays):
    """Point every file disk of a domain XML whose source is a key of ``overlays``
    (``{overlay: base}``) back at its base: source = base, driver type = the backing format
    (``raw`` when unknown), no ``<backingStore>``. Returns the new XML text."""
    _register_prefixes(xml_text)
    root = ET.fromstring(xml_text)
    for disk in root.findall("devices/disk"):
        source = disk.find("source")
        if disk.get("type") != "file" or source is None or source.get("file") not in overlays:
            continue
        source.set("file", overlays[source.get("file")])
        fmt = disk.find("backingStore/format")
        driver = disk.find("driver")
        if driver is None:
            driver = ET.SubElement(disk, "driver", name="qemu")
        driver.set("type", fmt.get("type") if fmt is not None and fmt.get("type") else "raw")
        for backing in disk.findall("backingStore"):
            disk.remove(backing)
    return ET.tostring(root, encoding="unicode")


def _public(entry, *keys):
    return dict((key, entry[key]) for key in ("target", "base", "overlay") + keys)


def snapshot_disks(conn, name, suffix=DEFAULT_SUFFIX, check_mode=False):
    """Freeze all file disks of the running domain ``name`` at one point in time.

    Returns ``{"changed", "disks": [{"target", "base", "overlay"}]}``; ``base`` is the
    frozen file to read. Disks already on their overlay are left alone (all of them:
    ``changed`` false). Raises :class:`SnapshotError` when the domain is not running, an
    overlay file is in the way, or libvirt fails (then no disk was changed: atomic).
    """
    check_suffix(suffix)
    libvirt = _libvirt()
    dom = lookup(conn, name)
    if dom is None or not _is_active(dom):
        raise SnapshotError("cannot snapshot the disks of domain %s: it is not running"
                            % name)
    xml_text = dom.XMLDesc(0)
    plan = plan_snapshot(name, file_disks(xml_text), suffix)
    take = [entry for entry in plan if entry["take"]]
    result = {"changed": bool(take), "disks": [_public(entry) for entry in plan]}
    if not take or check_mode:
        return result
    flags = (libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
             | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC
             | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA)
    try:
        dom.snapshotCreateXML(snapshot_xml(take, disk_targets(xml_text)), flags)
    except libvirt.libvirtError as err:
        raise SnapshotError("cannot snapshot the disks %s of domain %s: %s; no disk was "
                            "switched to an overlay (atomic snapshot)"
                            % (", ".join(e["target"] for e in take), name, err)) from err
    now = dict((d["target"], d["source"]) for d in file_disks(dom.XMLDesc(0)))
    for entry in take:
        if now.get(entry["target"]) != entry["overlay"]:
            raise SnapshotError("snapshot of domain %s reported success but disk %s runs on "
                                "%s, not on the overlay %s"
                                % (name, entry["target"], now.get(entry["target"]),
                                   entry["overlay"]))
    return result


def _job_info(dom, target):
    libvirt = _libvirt()
    try:
        return dom.blockJobInfo(target, 0) or {}
    except libvirt.libvirtError as err:
        raise SnapshotError("cannot query the block job of disk %s of domain %s: %s"
                            % (target, dom.name(), err)) from err


def _commit_online(dom, name, entry, timeout, clock, sleep):
    """Active block commit of one overlay into its base, pivot to the base when ready."""
    libvirt = _libvirt()
    target, overlay = entry["target"], entry["overlay"]
    still = "the overlay %s is still in use" % overlay
    info = _job_info(dom, target)
    if info and info.get("type") != libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT:
        raise SnapshotError("cannot commit disk %s of domain %s: another block job (type %s) "
                            "runs on it; %s" % (target, name, info.get("type"), still))
    if not info:  # else: a commit left by an earlier, interrupted run; wait for it
        try:
            dom.blockCommit(target, None, None, 0, libvirt.VIR_DOMAIN_BLOCK_COMMIT_ACTIVE)
        except libvirt.libvirtError as err:
            raise SnapshotError("cannot start the block commit of disk %s of domain %s: %s; "
                                "%s" % (target, name, err, still)) from err
    deadline = clock() + timeout if timeout and timeout > 0 else None
    while True:
        info = _job_info(dom, target)
        if not info:
            raise SnapshotError("the block commit of disk %s of domain %s ended without "
                                "pivot (failed in QEMU?); %s" % (target, name, still))
        if info.get("cur") == info.get("end"):
            try:
                dom.blockJobAbort(target, libvirt.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
                break
            except libvirt.libvirtError as err:
                if err.get_error_code() != libvirt.VIR_ERR_BLOCK_COPY_ACTIVE:
                    raise SnapshotError("cannot pivot disk %s of domain %s back to %s: %s; %s"
                                        % (target, name, entry["base"], err, still)) from err
        if deadline is not None and clock() >= deadline:
            try:
                dom.blockJobAbort(target, 0)
            except libvirt.libvirtError:
                pass
            raise SnapshotError("the block commit of disk %s of domain %s was not ready within "
                                "%d s and was cancelled; %s" % (target, name, timeout, still))
        sleep(_POLL_INTERVAL)
    now = dict((d["target"], d["source"]) for d in file_disks(dom.XMLDesc(0)))
    if now.get(target) != entry["base"]:
        raise SnapshotError("after the pivot disk %s of domain %s runs on %s, not on %s"
                            % (target, name, now.get(target), entry["base"]))


def _qemu_img(args, what, timeout):
    """Run ``qemu-img ARGS``; return its stdout or raise naming ``what`` and the cause."""
    try:
        proc = subprocess.run(["qemu-img"] + args, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout or None, check=False)
    except OSError as err:
        raise SnapshotError("%s: cannot run qemu-img: %s" % (what, err.strerror)) from err
    except subprocess.TimeoutExpired as err:
        raise SnapshotError("%s: qemu-img did not finish within %d s" % (what, timeout)) from err
    if proc.returncode != 0:
        raise SnapshotError("%s: qemu-img %s failed: %s" % (
            what, args[0], proc.stderr.decode(errors="replace").strip()
            or "exit status %d" % proc.returncode))
    return proc.stdout.decode(errors="replace")


def _check_offline(name, entry):
    """Before an offline commit: the overlay must be unused, qcow2 and backed by the base;
    an overlay the definition no longer uses must not be older than its base."""
    what = "cannot commit the overlay %s of disk %s of domain %s" % (
        entry["overlay"], entry["target"], name)
    if not os.path.isfile(entry["base"]):
        raise SnapshotError("%s: its base %s does not exist" % (what, entry["base"]))
    info = json.loads(_qemu_img(["info", "--output=json", entry["overlay"]], what, 60))
    backing = info.get("full-backing-filename") or info.get("backing-filename")
    if info.get("format") != "qcow2" or not backing or (
            os.path.realpath(backing) != os.path.realpath(entry["base"])):
        raise SnapshotError("%s: it is %s with backing file %s, not a qcow2 overlay of %s; "
                            "check it and remove it" % (what, info.get("format"), backing,
                                                        entry["base"]))
    if not entry["in_definition"]:
        if os.stat(entry["base"]).st_mtime > os.stat(entry["overlay"]).st_mtime:
            raise SnapshotError("%s: the definition no longer uses it and %s was written after "
                                "it (the domain ran on its base since), committing it would "
                                "overwrite newer data; check it and remove it"
                                % (what, entry["base"]))


def _remove(path, name):
    try:
        os.unlink(path)
    except OSError as err:
        if err.errno != errno.ENOENT:
            raise SnapshotError("cannot remove the committed overlay %s of domain %s: %s"
                                % (path, name, err.strerror)) from err


def commit_disks(conn, name, suffix=DEFAULT_SUFFIX, timeout=600, check_mode=False,
                 clock=time.monotonic, sleep=time.sleep):
    """Commit every overlay of the domain ``name`` back into its base and remove it.

    Running: active block commit + pivot per disk (``action: committed``), waiting at most
    ``timeout`` seconds per disk (0: no limit). Stopped: ``qemu-img commit`` of each overlay
    its definition uses or that lies next to a disk (``committed_offline``), then the
    definition is pointed back at the bases. Returns ``{"changed", "disks": [{"target",
    "base", "overlay", "action"}]}``; nothing to do is ``changed`` false.
    """
    check_suffix(suffix)
    libvirt = _libvirt()
    dom = lookup(conn, name)
    if dom is None:
        raise SnapshotError("cannot commit the disk snapshots of domain %s: it is not defined "
                            "on this node" % name)
    active = _is_active(dom)
    config_xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) if dom.isPersistent() else None
    live = file_disks(dom.XMLDesc(0)) if active else []
    config = file_disks(config_xml) if config_xml else []
    plan = plan_commit(name, active, live, config, suffix)
    if not active:
        for entry in plan:
            _check_offline(name, entry)
    result = {"changed": bool(plan), "disks": [_public(e, "action") for e in plan]}
    if not plan or check_mode:
        return result
    if active:
        for entry in plan:
            _commit_online(dom, name, entry, timeout, clock, sleep)
            _remove(entry["overlay"], name)
        return result
    for entry in plan:
        _qemu_img(["commit", "-q", "-f", "qcow2", entry["overlay"]],
                  "cannot commit the overlay %s of disk %s of domain %s into %s"
                  % (entry["overlay"], entry["target"], name, entry["base"]), timeout)
    overlays = dict((e["overlay"], e["base"]) for e in plan if e["in_definition"])
    if overlays:
        try:
            conn.defineXML(restore_definition_xml(config_xml, overlays))
        except libvirt.libvirtError as err:
            raise SnapshotError("the overlays of domain %s are committed but its definition "
                                "cannot be pointed back at %s: %s"
                                % (name, ", ".join(sorted(overlays.values())), err)) from err
    for entry in plan:
        _remove(entry["overlay"], name)
    return result
