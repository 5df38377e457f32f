# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010 -- Ansible module conventions (see docs/node-primitives.md)
"""The KVM hypervisor parameters (``-H``): the one table of names, kinds, choices, defaults.

The coordinator (``runner/gnt/params.py``) validates and fills ``-H`` values from
:data:`KVM_HVPARAMS`; the node (``domain_xml.py``, ``libvirt_migrate.py``) renders them.
Every entry takes effect where :data:`KVM_HVPARAMS` says (``EFFECT_XML``: the domain XML,
``EFFECT_MIGRATION``: the live migration call); a name not in the table is refused.

The choice tables map Ganeti's value to libvirt's, so the choices are their keys.
Also here: the disk access modes (:data:`DISK_MODES`), shared by the same users.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# hvparam disk_type -> (libvirt bus, device name prefix). Ganeti also has sd, mtd and
# pflash (QEMU -drive if=...), which are no disk buses in libvirt: not offered.
DISK_BUSES = {
    "paravirtual": ("virtio", "vd"),
    "ide": ("ide", "hd"),
    "scsi": ("scsi", "sd"),
}
# hvparam nic_type -> libvirt <model type=...>. Ganeti's ne2k_isa needs an ISA bus: not offered.
NIC_MODELS = {
    "paravirtual": "virtio",
    "e1000": "e1000",
    "rtl8139": "rtl8139",
    "ne2k_pci": "ne2k_pci",
    "pcnet": "pcnet",
    "i82551": "i82551",
    "i82557b": "i82557b",
    "i82559er": "i82559er",
}
# hvparam boot_order -> libvirt <boot dev=...>
BOOT_DEVICES = {"disk": "hd", "cdrom": "cdrom", "network": "network", "floppy": "fd"}
# hvparam accel -> libvirt domain type ("" lets the node choose: kvm if /dev/kvm exists).
# Not a Ganeti parameter (Ganeti has kvm_flag); ours, so instances run on nodes without KVM.
ACCEL_TYPES = {"kvm": "kvm", "tcg": "qemu"}
# hvparam reboot_behavior -> libvirt <on_reboot>: "exit" stops the instance when the guest
# reboots (Ganeti: QEMU -no-reboot).
REBOOT_ACTIONS = {"reboot": "restart", "exit": "destroy"}

KIND_STR = "str"
KIND_INT = "int"
KIND_BOOL = "bool"
KIND_CHOICE = "choice"

EFFECT_XML = "xml"
EFFECT_MIGRATION = "migration"

# name -> (kind, default, choices or None, where it takes effect).
# Defaults follow Ganeti 3.0's kvm defaults except where a comment says why not.
KVM_HVPARAMS = {
    "accel": (KIND_CHOICE, "", ("",) + tuple(ACCEL_TYPES), EFFECT_XML),
    "boot_order": (KIND_CHOICE, "disk", tuple(BOOT_DEVICES), EFFECT_XML),
    "disk_type": (KIND_CHOICE, "paravirtual", tuple(DISK_BUSES), EFFECT_XML),
    "nic_type": (KIND_CHOICE, "paravirtual", tuple(NIC_MODELS), EFFECT_XML),
    # Ganeti: /boot/vmlinuz-3-xenU. Ours boots the disk's own boot loader unless asked.
    "kernel_path": (KIND_STR, "", None, EFFECT_XML),
    "kernel_args": (KIND_STR, "ro", None, EFFECT_XML),
    "initrd_path": (KIND_STR, "", None, EFFECT_XML),
    "root_path": (KIND_STR, "/dev/vda1", None, EFFECT_XML),
    "serial_console": (KIND_BOOL, True, None, EFFECT_XML),
    # Ganeti: 38400. Ours is the speed the OS images' getty and boot loader use.
    "serial_speed": (KIND_INT, 115200, None, EFFECT_XML),
    # "" is QEMU's default CPU, "host" passes the host CPU through, any other is a model name.
    "cpu_type": (KIND_STR, "", None, EFFECT_XML),
    # "" is no VNC console at all (Ganeti likewise starts no VNC server without an address).
    "vnc_bind_address": (KIND_STR, "", None, EFFECT_XML),
    # "" is libvirt's default machine type of the node's QEMU.
    "machine_version": (KIND_STR, "", None, EFFECT_XML),
    # Maximum downtime of a live migration's switch-over, milliseconds.
    "migration_downtime": (KIND_INT, 30, None, EFFECT_MIGRATION),
    "reboot_behavior": (KIND_CHOICE, "reboot", tuple(REBOOT_ACTIONS), EFFECT_XML),
}

# Minimum of the integer parameters (a smaller value is refused).
INT_MINIMUM = {"serial_speed": 1, "migration_downtime": 1}

# Disk access modes (Ganeti's disk "mode"): read-write or read-only; the default first.
# Disk kinds (a disk's dev_type, its instance's disk template) whose data is a block device on
# the node: the domain gets <disk type='block'> with <source dev=...>; others are files.
BLOCK_DEV_TYPES = ("plain", "drbd", "blockdev", "ext")
DISK_MODE_RW = "rw"
DISK_MODE_RO = "ro"
DISK_MODES = (DISK_MODE_RW, DISK_MODE_RO)


def kvm_defaults():
    """The built-in default of every KVM hypervisor parameter (a new dict)."""
    return {name: entry[1] for name, entry in KVM_HVPARAMS.items()}
