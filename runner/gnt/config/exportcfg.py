"""The export description file ``config.ini`` of ``gnt-backup``: build, render and parse.

An export directory holds one dump file per exported disk and a ``config.ini`` in the
format Ganeti writes (an INI file with the sections ``[export]``, ``[instance]``,
``[hypervisor]``, ``[backend]``, ``[os]`` and, from Ganeti 2.16, ``[os_private]``).

Format facts mirrored here (so Ganeti can read our exports and we can read Ganeti's):

- ``[export]``: ``version`` (always 0), ``timestamp`` (integer seconds), ``source``, ``os``,
  ``compression``.
- ``[instance]``: ``name``, ``maxmem``, ``minmem``, ``memory`` (= maxmem, for old readers),
  ``vcpus``, ``disk_template``, ``hypervisor``, ``tags`` (space separated), ``nic_count`` and
  per NIC ``nic%d_mac/ip/mode/link/vlan/network/name``, ``disk_count`` and per exported disk
  ``disk%d_ivname/dump/size/name``. Unset values are written as the text ``None``.
- A disk whose export failed gets no ``disk%d_*`` keys at all, and ``disk_count`` counts only
  the exported disks, so the indices of the remaining disks keep their original numbers.
- ``[hypervisor]``, ``[backend]`` and ``[os]`` hold the instance's filled parameters as text
  (booleans as ``True``/``False``).

Every problem found while parsing raises :class:`OpPrereqError` (``ECODE_INVAL``) naming the
file, the section and the key.
"""

from __future__ import annotations

import configparser
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gnt import EXPORT_VERSION
from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.opcodes import params
from gnt.opcodes.params import check_compression

CONFIG_FILE = "config.ini"

SECT_EXPORT = "export"
SECT_INSTANCE = "instance"
SECT_HYPERVISOR = "hypervisor"
SECT_BACKEND = "backend"
SECT_OS = "os"
SECT_OS_PRIVATE = "os_private"

NIC_FIELDS = ("mac", "ip", "mode", "link", "vlan", "network", "name")
DISK_MODES = params.DISK_MODES
# Hypervisor parameters that are cluster-wide in Ganeti and never exported.
HV_GLOBALS = ("migration_port", "migration_bandwidth", "migration_mode", "xen_cmd")

_NIC_KEY = re.compile(r"^nic(\d+)_(\w+)$")
_DISK_KEY = re.compile(r"^disk(\d+)_(\w+)$")
_NONE_TEXT = "none"


@dataclass
class ExportInfo:
    """Everything ``config.ini`` says about an exported instance.

    ``nics`` are dicts with the keys of :data:`NIC_FIELDS` (``None`` when unset).
    ``disks`` lists the exported disks only, each a dict with ``index`` (the disk's position
    in the instance), ``ivname``, ``dump`` (file name in the export directory, or ``None``
    when a foreign file named none), ``size_mib``, ``name`` (or ``None``) and ``mode``
    (``"rw"``/``"ro"``, or ``None`` when the file does not say).
    """

    name: str
    os: str
    disk_template: str
    hypervisor: str | None = None
    source: str = ""
    timestamp: int = 0
    compression: str = "none"
    version: int = EXPORT_VERSION
    beparams: dict[str, Any] = field(default_factory=dict)
    hvparams: dict[str, Any] = field(default_factory=dict)
    osparams: dict[str, Any] = field(default_factory=dict)
    osparams_private: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    nics: list[dict[str, Any]] = field(default_factory=list)
    disks: list[dict[str, Any]] = field(default_factory=list)


def _fail(message: str) -> OpPrereqError:
    return OpPrereqError(message, ECODE_INVAL)


def _check_dump_name(value: str, where: str) -> str:
    if not value or "/" in value or value in (".", ".."):
        raise _fail(f"{where} '{value}' is not a plain file name in the export directory")
    return value


def build_export_info(config: Mapping[str, Any], instance: Mapping[str, Any],
                      disk_dumps: list[str | None], compression: str,
                      timestamp: float | None = None,
                      source: str | None = None) -> ExportInfo:
    """Describe ``instance`` (an entry of ``config["instances"]``) for ``config.ini``.

    ``disk_dumps[i]`` is the dump file name of the instance's i-th disk, or ``None`` when
    that disk failed to export (it is then left out, as Ganeti does). ``source`` defaults to
    the cluster name. Parameters are the filled (effective) ones.
    """
    cluster = config["cluster"]
    check_compression(compression)
    disk_uuids = list(instance["disks"])
    if len(disk_dumps) != len(disk_uuids):
        raise _fail(f"instance {instance['name']} has {len(disk_uuids)} disk(s) but"
                    f" {len(disk_dumps)} dump name(s) were given")
    disks: list[dict[str, Any]] = []
    for index, (uuid, dump) in enumerate(zip(disk_uuids, disk_dumps)):
        if dump is None:
            continue
        disk = config["disks"][uuid]
        disks.append({
            "index": index, "ivname": disk.get("iv_name") or f"disk/{index}",
            "dump": _check_dump_name(dump, f"disk {index} dump"), "size_mib": int(disk["size"]),
            "name": disk.get("name") or None, "mode": disk.get("mode"),
        })
    nics: list[dict[str, Any]] = []
    for nic in instance["nics"]:
        filled = params.filled_nicparams(cluster, nic)
        nics.append({
            "mac": nic["mac"], "ip": nic.get("ip") or None,
            "mode": filled.get("mode"), "link": filled.get("link"),
            "vlan": filled.get("vlan") or None,
            "network": nic.get("network") or None, "name": nic.get("name") or None,
        })
    hvparams = {key: value for key, value in params.filled_hvparams(cluster, instance).items()
                if key not in HV_GLOBALS}
    os_base = instance["os"].split("+")[0]
    osparams = {**cluster.get("osparams", {}).get(os_base, {}), **instance.get("osparams", {})}
    return ExportInfo(
        name=instance["name"], os=instance["os"], disk_template=instance["disk_template"],
        hypervisor=instance["hypervisor"], source=source or cluster["cluster_name"],
        timestamp=int(time.time() if timestamp is None else timestamp),
        compression=compression, version=EXPORT_VERSION,
        beparams=params.filled_beparams(cluster, instance), hvparams=hvparams,
        osparams=osparams, tags=list(instance.get("tags", [])), nics=nics, disks=disks)


def _text(value: Any) -> str:
    """Ganeti's rendering of a value: ``str()``, so None -> "None", True -> "True"."""
    return str(value)


def render(info: ExportInfo) -> str:
    """Return the ``config.ini`` text for ``info`` (stable key order)."""
    check_compression(info.compression)
    sections: dict[str, dict[str, str]] = {}
    sections[SECT_EXPORT] = {
        "version": _text(info.version), "timestamp": str(int(info.timestamp)),
        "source": info.source, "os": info.os, "compression": info.compression,
    }
    be = info.beparams
    inst: dict[str, str] = {"name": info.name}
    for key in ("maxmem", "minmem"):
        if key in be:
            inst[key] = _text(be[key])
    if "maxmem" in be:
        inst["memory"] = _text(be["maxmem"])
    if "vcpus" in be:
        inst["vcpus"] = _text(be["vcpus"])
    inst["disk_template"] = info.disk_template
    if info.hypervisor is not None:
        inst["hypervisor"] = info.hypervisor
    inst["tags"] = " ".join(info.tags)
    for idx, nic in enumerate(info.nics):
        for key in NIC_FIELDS:
            value = nic.get(key)
            # Ganeti's importer treats any non-empty network text as a network name, and
            # its filled NIC parameters have an empty vlan.
            unset = key in ("network", "vlan") and value is None
            inst[f"nic{idx}_{key}"] = "" if unset else _text(value)
    inst["nic_count"] = str(len(info.nics))
    for disk in info.disks:
        idx = int(disk["index"])
        inst[f"disk{idx}_ivname"] = _text(disk.get("ivname") or f"disk/{idx}")
        if disk.get("dump") is not None:
            inst[f"disk{idx}_dump"] = disk["dump"]
        inst[f"disk{idx}_size"] = str(int(disk["size_mib"]))
        inst[f"disk{idx}_name"] = _text(disk.get("name"))
        if disk.get("mode") is not None:
            inst[f"disk{idx}_mode"] = disk["mode"]
    inst["disk_count"] = str(len(info.disks))
    sections[SECT_INSTANCE] = inst
    for section, values in ((SECT_HYPERVISOR, info.hvparams), (SECT_BACKEND, info.beparams),
                            (SECT_OS, info.osparams)):
        sections[section] = {key: _text(values[key]) for key in sorted(values)}
    if info.osparams_private:
        sections[SECT_OS_PRIVATE] = {key: _text(info.osparams_private[key])
                                     for key in sorted(info.osparams_private)}
    lines: list[str] = []
    for section, entries in sections.items():
        lines.append(f"[{section}]")
        for key, value in entries.items():
            if "\n" in value or "\r" in value:
                raise _fail(f"{CONFIG_FILE}: [{section}] {key}: value {value!r} contains a"
                            " line break")
            lines.append(f"{key} = {value}" if value else f"{key} =")
        lines.append("")
    return "\n".join(lines)


def _new_parser() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(interpolation=None, strict=True,
                                          default_section="\x00no-defaults")
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    return parser


class _Reader:
    """Typed access to one parsed file, with errors naming file, section and key."""

    def __init__(self, parser: configparser.RawConfigParser, where: str) -> None:
        self.parser = parser
        self.where = where

    def loc(self, section: str, key: str) -> str:
        return f"{self.where}: [{section}] {key}"

    def has(self, section: str, key: str) -> bool:
        return self.parser.has_option(section, key)

    def get(self, section: str, key: str, default: str | None = None,
            required: bool = True) -> str | None:
        if self.parser.has_option(section, key):
            return self.parser.get(section, key).strip()
        if required:
            raise _fail(f"{self.loc(section, key)} missing")
        return default

    def text(self, section: str, key: str) -> str:
        value = self.get(section, key)
        assert value is not None
        return value

    def integer(self, section: str, key: str, required: bool = True) -> int | None:
        value = self.get(section, key, required=required)
        if value is None:
            return None
        return _to_int(value, self.loc(section, key))

    def section(self, name: str) -> dict[str, str]:
        if not self.parser.has_section(name):
            return {}
        return {key: value.strip() for key, value in self.parser.items(name)}


def _to_int(value: str, where: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise _fail(f"{where}: not an integer: '{value}'") from None


def _optional(value: str | None) -> str | None:
    """Ganeti writes unset values as "None"; an empty text means unset as well."""
    if value is None or value == "" or value.lower() == _NONE_TEXT:
        return None
    return value


def _typed(spec: Mapping[str, tuple[Callable[[Any], Any], Any]], values: Mapping[str, str],
           where: str, section: str) -> dict[str, Any]:
    """Convert known boolean and integer parameters; other values stay text."""
    result: dict[str, Any] = {}
    for key, value in values.items():
        converter, default = spec.get(key, (None, None))
        if converter is None or not isinstance(default, (bool, int)):
            result[key] = value
            continue
        try:
            result[key] = converter(value)
        except (ValueError, TypeError):
            kind = "a boolean" if isinstance(default, bool) else "an integer"
            raise _fail(f"{where}: [{section}] {key}: not {kind}: '{value}'") from None
    return result


def _indexed(keys: list[str], pattern: re.Pattern[str]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for key in keys:
        match = pattern.match(key)
        if match:
            found.setdefault(int(match.group(1)), set()).add(match.group(2))
    return found


def _parse_nics(rd: _Reader, keys: list[str]) -> list[dict[str, Any]]:
    indices = _indexed(keys, _NIC_KEY)
    count = rd.integer(SECT_INSTANCE, "nic_count", required=False)
    if count is None:
        count = len(indices)
    if count < 0:
        raise _fail(f"{rd.loc(SECT_INSTANCE, 'nic_count')}: must not be negative: {count}")
    extra = sorted(i for i in indices if i >= count)
    if extra:
        raise _fail(f"{rd.where}: [{SECT_INSTANCE}] nic_count is {count} but there are keys"
                    f" for NIC {extra[0]} (nic{extra[0]}_*)")
    nics: list[dict[str, Any]] = []
    for idx in range(count):
        mac = rd.text(SECT_INSTANCE, f"nic{idx}_mac")
        nic: dict[str, Any] = {"mac": mac}
        for key in NIC_FIELDS[1:]:
            nic[key] = _optional(rd.get(SECT_INSTANCE, f"nic{idx}_{key}", required=False))
        if nic["mode"] is not None and nic["mode"] not in params.NIC_MODES:
            raise _fail(f"{rd.loc(SECT_INSTANCE, f'nic{idx}_mode')}: unknown NIC mode"
                        f" '{nic['mode']}' (valid: {', '.join(params.NIC_MODES)})")
        nics.append(nic)
    return nics


def _parse_disks(rd: _Reader, keys: list[str]) -> list[dict[str, Any]]:
    indices = _indexed(keys, _DISK_KEY)
    count = rd.integer(SECT_INSTANCE, "disk_count", required=False)
    if count is not None and count != len(indices):
        listed = ", ".join(str(i) for i in sorted(indices)) or "none"
        raise _fail(f"{rd.where}: [{SECT_INSTANCE}] disk_count is {count} but keys describe"
                    f" {len(indices)} disk(s) (indices: {listed})")
    disks: list[dict[str, Any]] = []
    for idx in sorted(indices):
        size = rd.integer(SECT_INSTANCE, f"disk{idx}_size")
        assert size is not None
        if size <= 0:
            raise _fail(f"{rd.loc(SECT_INSTANCE, f'disk{idx}_size')}: must be positive: {size}")
        dump = _optional(rd.get(SECT_INSTANCE, f"disk{idx}_dump", required=False))
        if dump is not None:
            _check_dump_name(dump, rd.loc(SECT_INSTANCE, f"disk{idx}_dump"))
        mode = _optional(rd.get(SECT_INSTANCE, f"disk{idx}_mode", required=False))
        if mode is not None and mode not in DISK_MODES:
            raise _fail(f"{rd.loc(SECT_INSTANCE, f'disk{idx}_mode')}: unknown disk mode"
                        f" '{mode}' (valid: {', '.join(DISK_MODES)})")
        disks.append({
            "index": idx,
            "ivname": _optional(rd.get(SECT_INSTANCE, f"disk{idx}_ivname", required=False))
            or f"disk/{idx}",
            "dump": dump, "size_mib": size,
            "name": _optional(rd.get(SECT_INSTANCE, f"disk{idx}_name", required=False)),
            "mode": mode,
        })
    return disks


def _parse_beparams(rd: _Reader) -> dict[str, Any]:
    """[backend] typed, completed from the old-style [instance] memory/vcpus keys."""
    raw = rd.section(SECT_BACKEND)
    memory = raw.pop(params.BE_MEMORY_ALIAS, None)
    be = _typed(params.BEPARAMS, raw, rd.where, SECT_BACKEND)
    if memory is not None:
        mem = _to_int(memory, rd.loc(SECT_BACKEND, params.BE_MEMORY_ALIAS))
        be.setdefault("maxmem", mem)
        be.setdefault("minmem", mem)
    old_memory = rd.integer(SECT_INSTANCE, params.BE_MEMORY_ALIAS, required=False)
    for key in ("maxmem", "minmem", "vcpus"):
        value = rd.integer(SECT_INSTANCE, key, required=False)
        if value is None and key != "vcpus":
            value = old_memory
        if value is not None:
            be.setdefault(key, value)
    return be


def parse(text: str, where: str = CONFIG_FILE) -> ExportInfo:
    """Parse ``config.ini`` text written by us or by Ganeti (2.x/3.0).

    Raises :class:`OpPrereqError` naming ``where``, the section and the key on any problem.
    """
    parser = _new_parser()
    try:
        parser.read_string(text, source=where)
    except configparser.Error as err:
        detail = " ".join(str(err).split())
        raise _fail(f"{where}: not a valid export description: {detail}") from None
    for section in (SECT_EXPORT, SECT_INSTANCE):
        if not parser.has_section(section):
            raise _fail(f"{where}: no [{section}] section")
    rd = _Reader(parser, where)
    version = rd.integer(SECT_EXPORT, "version")
    if version != EXPORT_VERSION:
        raise _fail(f"{rd.loc(SECT_EXPORT, 'version')}: version {version} not supported"
                    f" (expected {EXPORT_VERSION})")
    timestamp = rd.integer(SECT_EXPORT, "timestamp", required=False) or 0
    compression = rd.get(SECT_EXPORT, "compression", default="none", required=False) or "none"
    check_compression(compression, rd.loc(SECT_EXPORT, "compression"))
    os_name = rd.text(SECT_EXPORT, "os")
    if not os_name:
        raise _fail(f"{rd.loc(SECT_EXPORT, 'os')}: empty")
    name = rd.text(SECT_INSTANCE, "name")
    if not name:
        raise _fail(f"{rd.loc(SECT_INSTANCE, 'name')}: empty")
    keys = list(parser.options(SECT_INSTANCE))
    hypervisor = _optional(rd.get(SECT_INSTANCE, "hypervisor", required=False))
    hv_spec = params.HVPARAMS.get(hypervisor or "", {})
    tags_text = rd.get(SECT_INSTANCE, "tags", default="", required=False) or ""
    return ExportInfo(
        name=name, os=os_name, disk_template=rd.text(SECT_INSTANCE, "disk_template"),
        hypervisor=hypervisor,
        source=rd.get(SECT_EXPORT, "source", default="", required=False) or "",
        timestamp=timestamp, compression=compression, version=version,
        beparams=_parse_beparams(rd),
        hvparams=_typed(hv_spec, rd.section(SECT_HYPERVISOR), where, SECT_HYPERVISOR),
        osparams=rd.section(SECT_OS), osparams_private=rd.section(SECT_OS_PRIVATE),
        tags=tags_text.split(), nics=_parse_nics(rd, keys), disks=_parse_disks(rd, keys))
