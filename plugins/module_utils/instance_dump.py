# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""Exporting instance disks to dump files and importing dump files onto instance disks.

Export (run on the instance's node): per disk, the OS definition's ``export`` script (or the
raw disk when the instance has no OS) -> the compressor -> the dump file, either in a local
directory or on another node over SSH (``dd`` there, fsynced). Import (run on the new
instance's node): the dump file, local or read from another node over SSH -> the
decompressor -> the OS ``import`` script (or the disk written in place, sparse).

One failing disk does not stop the export of the others (the caller decides what a partial
export is worth); an import stops at the first failing disk. Results are plain dicts, one
per disk. The stages and their error messages come from :mod:`disk_stream`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import os
import stat

from ansible_collections.gnt.cluster.plugins.module_utils import disk_stream as ds
from ansible_collections.gnt.cluster.plugins.module_utils import os_interface as osi
from ansible_collections.gnt.cluster.plugins.module_utils.compressions import (
    COMPRESSION_TOOLS,
    DUMP_SUFFIX,
)

COMPRESSIONS = list(COMPRESSION_TOOLS)     # Ganeti's names, in its order


def transfer_argument_spec():
    """The options disk_export and disk_import share (doc fragment ``disk_transfer``)."""
    return dict(
        instance=dict(type="dict", required=True),
        compression=dict(type="str", default="none", choices=list(COMPRESSIONS)),
        peer=dict(type="dict", required=True, options=dict(
            local=dict(type="bool", default=False),
            name=dict(type="str"),
            address=dict(type="str"),
            port=dict(type="int", default=22),
            user=dict(type="str", default="root"),
            ssh_args=dict(type="list", elements="str", default=[]),
        )),
        search_path=dict(type="list", elements="path", default=[]),
        use_os=dict(type="bool", default=True),
        log_dir=dict(type="path"),
        debug_level=dict(type="int", default=0),
        timeout=dict(type="int", default=3600),
    )


def peer_error(peer, instance_name):
    """Why ``peer`` cannot be used (no address for a remote node), or None."""
    if not peer.get("local") and not peer.get("address"):
        return "instance %s: peer.address is required unless peer.local" % instance_name
    return None


def failure_message(instance_name, action, results):
    """The module's failure message when some disk in ``results`` failed, else None."""
    failed = [entry["msg"] for entry in results if not entry["ok"]]
    if not failed:
        return None
    return ("instance %s: %s of %d of %d disk(s) failed: %s"
            % (instance_name, action, len(failed), len(results), "; ".join(failed)))


class DumpError(Exception):
    """A problem that concerns every disk (OS missing, bad arguments); names the cause."""


def dump_name(index, compression):
    """File name of disk ``index``'s dump in an export directory."""
    if compression not in DUMP_SUFFIX:
        raise DumpError("unknown compression %r (valid: %s)"
                        % (compression, ", ".join(sorted(DUMP_SUFFIX))))
    return "disk%d.dump%s" % (index, DUMP_SUFFIX[compression])


def resolve_os(instance, search_path, use_os=True):
    """``(osdef, variant)`` of the instance's OS, or ``(None, "")`` for raw data (no OS set
    or ``use_os`` false). A set OS that is missing or invalid raises :class:`DumpError`."""
    os_name = instance.get("os") or ""
    if not use_os or not os_name:
        return None, ""
    _name, variant = osi.split_os_name(os_name)
    try:
        osdef = osi.find_os(os_name, search_path)
        if not osdef["valid"]:
            raise osi.OSDefinitionError(osdef["error"])
        variant = osi.check_variant_and_params(osdef, variant, instance.get("osparams") or {})
    except osi.OSDefinitionError as err:
        raise DumpError("instance %s: %s" % (instance.get("name"), err)) from err
    return osdef, variant


def _disk(instance, index):
    for disk in instance.get("disks") or []:
        if int(disk.get("index", -1)) == index:
            return disk
    raise DumpError("instance %s has no disk %d" % (instance.get("name"), index))


def disk_path(instance, index):
    """The path of disk ``index`` of ``instance`` (DumpError if it has no such disk)."""
    return _disk(instance, index)["path"]


def _log_path(log_dir, action, instance, index):
    if not log_dir:
        return None
    if not os.path.isdir(log_dir):
        os.makedirs(log_dir, 0o750)
    return osi.log_file_name(log_dir, "%s-disk%d" % (action, index),
                             instance.get("os") or "raw", instance["name"])


def _os_stage(osdef, variant, instance, action, index, log_dir, debug_level):
    argv, env = osi.script_command(osdef, instance, action, variant, debug_level,
                                   disk_index=index)
    label = "OS %s %s script for disk %d" % (osdef["name"], action, index)
    return ds.Proc(label, argv, env=env, cwd=osdef["path"],
                   stderr_path=_log_path(log_dir, action, instance, index))


def _where(target):
    return "this node" if target.get("local") else target.get("name") or target["address"]


def export_plan(instance, index, dest_dir, compression, target, osdef=None, variant="",
                log_dir=None, debug_level=0):
    """The stages exporting disk ``index`` into ``dest_dir`` on ``target``, and the dump's
    path there."""
    disk = _disk(instance, index)
    path = os.path.join(dest_dir, dump_name(index, compression))
    if osdef is not None:
        stages = [_os_stage(osdef, variant, instance, "export", index, log_dir, debug_level)]
    else:
        stages = [ds.FileIn("disk %d (%s)" % (index, disk["path"]), disk["path"])]
    compressor = ds.compression_argv(compression)
    if compressor:
        stages.append(ds.Proc("%s of disk %d" % (compressor[0], index), compressor))
    if target.get("local"):
        stages.append(ds.FileOut("dump file %s" % path, path))
    else:
        command = ds.remote_write_command(path, sparse=compressor is None)
        stages.append(ds.Proc("transfer of disk %d to %s" % (index, _where(target)),
                              ds.ssh_argv(target, command)))
    return stages, path


def import_plan(instance, index, dump, compression, source, osdef=None, variant="",
                log_dir=None, debug_level=0):
    """The stages importing the dump file ``dump`` (on ``source``) onto disk ``index``."""
    disk = _disk(instance, index)
    if source.get("local"):
        stages = [ds.FileIn("dump file %s" % dump, dump)]
    else:
        stages = [ds.Proc("transfer of %s from %s" % (dump, _where(source)),
                          ds.ssh_argv(source, ds.remote_read_command(dump)))]
    decompressor = ds.compression_argv(compression, decompress=True)
    if decompressor:
        stages.append(ds.Proc("%s -d of %s" % (decompressor[0], os.path.basename(dump)),
                              decompressor))
    if osdef is not None:
        stages.append(_os_stage(osdef, variant, instance, "import", index, log_dir,
                                debug_level))
    else:
        stages.append(ds.DiskOut("disk %d (%s)" % (index, disk["path"]), disk["path"]))
    return stages


def _check_local_dir(path, what):
    if not os.path.isabs(path or ""):
        raise DumpError("%s %r is not an absolute path" % (what, path))


def export_disks(instance, indices, dest_dir, compression, target, search_path,
                 use_os=True, log_dir=None, debug_level=0, timeout=3600, check_mode=False):
    """Export the disks ``indices`` of ``instance``; one result dict per disk:
    ``index, ok, dump (file name), path, method (os|raw), bytes, duration_s, msg``."""
    _check_local_dir(dest_dir, "export directory")
    ds.compression_argv(compression)
    osdef, variant = resolve_os(instance, search_path, use_os)
    method = "os" if osdef is not None else "raw"
    if target.get("local") and not check_mode:
        os.makedirs(dest_dir, 0o700, exist_ok=True)
    results = []
    for index in indices:
        entry = {"index": index, "ok": False, "dump": dump_name(index, compression),
                 "path": None, "method": method, "bytes": None, "duration_s": 0.0, "msg": ""}
        try:
            stages, entry["path"] = export_plan(instance, index, dest_dir, compression, target,
                                                osdef, variant, None if check_mode else log_dir,
                                                debug_level)
            if check_mode:
                entry.update(ok=True, msg="would export")
            else:
                drop_cached_pages(disk_path(instance, index))
                done = ds.run_chain(stages, timeout)
                size = done["bytes"] if done["bytes"] is not None else _int(done["output"])
                entry.update(ok=True, bytes=size, duration_s=done["duration_s"])
        except (ds.StreamError, DumpError, osi.OSDefinitionError, OSError) as err:
            entry["msg"] = "disk %d: %s" % (index, err)
        results.append(entry)
    return results


BLKFLSBUF = 0x1261   # linux/fs.h: write back and drop a block device's cached pages


def drop_cached_pages(path):
    """Drop the page cache of block device ``path`` before it is read (nothing for files).

    Writes that reach a volume below it (DRBD writes to its data volume at the block layer)
    do not update the volume's own page cache, so pages read earlier - by udev's probe, an
    earlier export - would be read again instead of the data."""
    try:
        if not stat.S_ISBLK(os.stat(path).st_mode):
            return
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return      # the export itself reports a missing or unreadable disk
    try:
        fcntl.ioctl(fd, BLKFLSBUF, 0)
    finally:
        os.close(fd)


def import_disks(instance, disks, compression, source, search_path, use_os=True,
                 log_dir=None, debug_level=0, timeout=3600, check_mode=False):
    """Import every ``{"index", "dump"}`` of ``disks``; stops at the first failure. Returns
    one result dict per disk tried: ``index, ok, dump, method, bytes, duration_s, msg``."""
    ds.compression_argv(compression)
    osdef, variant = resolve_os(instance, search_path, use_os)
    method = "os" if osdef is not None else "raw"
    results = []
    for item in disks:
        index, dump = int(item["index"]), item["dump"]
        entry = {"index": index, "ok": False, "dump": dump, "method": method, "bytes": None,
                 "duration_s": 0.0, "msg": ""}
        results.append(entry)
        try:
            _check_local_dir(dump, "dump file")
            stages = import_plan(instance, index, dump, compression, source, osdef, variant,
                                 None if check_mode else log_dir, debug_level)
            if check_mode:
                entry.update(ok=True, msg="would import")
                continue
            done = ds.run_chain(stages, timeout)
            entry.update(ok=True, bytes=done["bytes"], duration_s=done["duration_s"])
        except (ds.StreamError, DumpError, osi.OSDefinitionError, OSError) as err:
            entry["msg"] = "disk %d: %s" % (index, err)
            break
    return results


def _int(text):
    try:
        return int((text or "").strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
