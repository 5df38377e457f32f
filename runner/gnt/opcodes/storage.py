"""Cluster-level LVM and DRBD settings: the volume group, the DRBD usermode helper and the
reserved LVs, checked against the enabled disk templates as Ganeti's init and modify do.

The cluster config keeps them as ``volume_group_name`` (empty: no LVM), ``drbd_usermode_helper``
and ``reserved_lvs`` (regular expressions of LV names that verify ignores).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gnt.core.errors import ECODE_INVAL, OpPrereqError

DT_PLAIN = "plain"
DT_DRBD = "drbd"
LVM_TEMPLATES = (DT_PLAIN, DT_DRBD)       # templates whose disks are logical volumes
DEFAULT_VG = "xenvg"
DEFAULT_DRBD_HELPER = "/bin/true"
# Ganeti's storage types that nodes report (gnt-node list-storage --storage-type), and the
# disk templates whose storage each one is (a type is enabled with one of its templates).
STORAGE_TYPES = ("lvm-pv", "lvm-vg", "file", "sharedfile")
STORAGE_TYPE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "lvm-pv": LVM_TEMPLATES, "lvm-vg": LVM_TEMPLATES, "file": ("file",),
    "sharedfile": ("sharedfile",),
}
# What can be changed on a storage unit of each type (Ganeti's MODIFIABLE_STORAGE_FIELDS) and
# which types can be repaired (Ganeti's SO_FIX_CONSISTENCY).
MODIFIABLE_FIELDS: dict[str, tuple[str, ...]] = {"lvm-pv": ("allocatable",)}
REPAIRABLE_TYPES = ("lvm-vg",)
# The storage type of each disk template (Ganeti's MAP_DISK_TEMPLATE_STORAGE_TYPE).
TEMPLATE_STORAGE_TYPE = {DT_PLAIN: "lvm-vg", DT_DRBD: "lvm-vg", "file": "file",
                         "sharedfile": "sharedfile", "diskless": "diskless", "ext": "extstorage"}
# The cluster config's fields, with what an older config without them stands for.
FIELD_DEFAULTS: dict[str, object] = {
    "volume_group_name": "", "drbd_usermode_helper": "", "reserved_lvs": [],
}
# LVM's own rule for VG names: letters, digits and + _ . -, not starting with '-'.
_VG_RE = re.compile(r"^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$")

Note = Callable[[str], None]


def lvm_enabled(templates: list[str]) -> bool:
    """True when a template that uses LVM is among ``templates``."""
    return any(template in LVM_TEMPLATES for template in templates)


def check_vg_name(name: str) -> str:
    """``name`` if it is a valid volume group name (or empty), else OpPrereqError naming it."""
    if name and (not _VG_RE.match(name) or name in (".", "..")):
        raise OpPrereqError(f"Invalid volume group name '{name}': letters, digits and"
                            " '+_.-' only, not starting with '-'", ECODE_INVAL)
    return name


def init_vg_name(given: str | None, templates: list[str], note: Note) -> str:
    """The volume group of a new cluster: ``given``, else xenvg when LVM templates are
    enabled, else none."""
    if given is None:
        return DEFAULT_VG if lvm_enabled(templates) else ""
    if given and not lvm_enabled(templates):
        note("You specified a volume group with --vg-name, but you did not enable any disk"
             " template that uses lvm.")
    if not given and lvm_enabled(templates):
        raise OpPrereqError("LVM disk templates are enabled, but vg name not set.",
                            ECODE_INVAL)
    return check_vg_name(given)


def init_drbd_helper(given: str | None, templates: list[str], note: Note) -> str:
    """The DRBD usermode helper of a new cluster: ``given``, else /bin/true when drbd is
    enabled, else none."""
    drbd = DT_DRBD in templates
    if given is not None and not drbd:
        note("Note: You specified a DRBD usermode helper, while DRBD storage is not enabled.")
    if drbd and given is None:
        return DEFAULT_DRBD_HELPER
    if drbd and given == "":
        raise OpPrereqError("Unsetting the drbd usermode helper while enabling DRBD is not"
                            " allowed.", ECODE_INVAL)
    return given or ""


def check_modify(vg_name: str, drbd_helper: str, templates: list[str]) -> None:
    """Refuse a volume group or usermode helper left unset while templates need them (the
    cluster's values after a ``modify``)."""
    if lvm_enabled(templates) and not vg_name:
        raise OpPrereqError("Cannot disable lvm storage while lvm-based disk templates are"
                            f" enabled ({', '.join(t for t in templates if t in LVM_TEMPLATES)})",
                            ECODE_INVAL)
    if DT_DRBD in templates and not drbd_helper:
        raise OpPrereqError("Cannot disable drbd helper while DRBD is enabled.", ECODE_INVAL)


def parse_reserved_lvs(text: str) -> list[str]:
    """``--reserved-lvs`` (comma separated regular expressions; ``\\,`` is a literal comma;
    empty clears the list), each checked to compile."""
    if text == "":
        return []
    items, current, escaped = [], "", False
    for char in text:
        if escaped:
            current += char if char == "," else "\\" + char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current + ("\\" if escaped else ""))
    return check_reserved_lvs(items)


def check_reserved_lvs(items: list[str]) -> list[str]:
    """``items`` if each is a valid regular expression, else OpPrereqError naming it."""
    for item in items:
        try:
            re.compile(item)
        except re.error as err:
            raise OpPrereqError(f"Invalid reserved LV expression '{item}': {err}",
                                ECODE_INVAL) from err
    return items
