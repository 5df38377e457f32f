# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""The libvirt domain XML of an instance: one Jinja2 template and its render function.

:func:`build_context` turns an instance spec (see ``docs/node-primitives.md``) into plain
values, validating every hvparam it maps (a bad value raises :class:`DomainSpecError` naming
the instance, the parameter, the value and the valid choices). :func:`render_domain_xml`
renders :data:`DOMAIN_TEMPLATE` with it. The rendered XML carries, in its ``<metadata>``, a
hash of itself (``spec_hash``) and the instance's minimum memory, so the node can tell
whether a defined domain matches a spec without comparing libvirt's normalised XML.

Jinja2 is imported lazily so this module is importable on a node without it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import stat

from ansible_collections.gnt.cluster.plugins.module_utils import hvparams
from ansible_collections.gnt.cluster.plugins.module_utils.hvparams import (
    ACCEL_TYPES,
    BOOT_DEVICES,
    DISK_BUSES,
    DISK_MODES,
    NIC_MODELS,
    REBOOT_ACTIONS,
)

METADATA_NS = "https://gnt.cluster/xmlns/instance/1"

DOMAIN_TEMPLATE = """\
<domain type='{{ domain_type }}'>
  <name>{{ name | e }}</name>
{% if uuid %}
  <uuid>{{ uuid | e }}</uuid>
{% endif %}
  <metadata>
    <gnt:instance xmlns:gnt='{{ metadata_ns }}'>
      <gnt:spec_hash>{{ spec_hash }}</gnt:spec_hash>
      <gnt:minmem>{{ minmem }}</gnt:minmem>
      <gnt:os>{{ os | e }}</gnt:os>
    </gnt:instance>
  </metadata>
  <memory unit='MiB'>{{ maxmem }}</memory>
  <currentMemory unit='MiB'>{{ memory }}</currentMemory>
  <vcpu placement='static'>{{ vcpus }}</vcpu>
  <os>
{% if machine %}
    <type arch='x86_64' machine='{{ machine | e }}'>hvm</type>
{% else %}
    <type arch='x86_64'>hvm</type>
{% endif %}
{% if kernel_path %}
    <kernel>{{ kernel_path | e }}</kernel>
{% if initrd_path %}
    <initrd>{{ initrd_path | e }}</initrd>
{% endif %}
    <cmdline>{{ kernel_cmdline | e }}</cmdline>
{% else %}
    <boot dev='{{ boot_dev }}'/>
{% endif %}
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
{% if cpu_model == 'host' %}
  <cpu mode='host-passthrough'/>
{% elif cpu_model %}
  <cpu mode='custom' match='exact'>
    <model fallback='allow'>{{ cpu_model | e }}</model>
  </cpu>
{% endif %}
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>{{ on_reboot }}</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
{% for disk in disks %}
{% if disk.block %}
    <disk type='block' device='disk'>
      <driver name='qemu' type='raw'/>
      <source dev='{{ disk.path | e }}'/>
{% else %}
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='{{ disk.path | e }}'/>
{% endif %}
      <target dev='{{ disk.dev }}' bus='{{ disk.bus }}'/>
{% if disk.readonly %}
      <readonly/>
{% endif %}
    </disk>
{% endfor %}
{% for nic in nics %}
{% if nic.mode == 'routed' %}
    <interface type='ethernet'>
{% else %}
    <interface type='bridge'>
      <source bridge='{{ nic.link | e }}'/>
{% if nic.mode == 'openvswitch' %}
      <virtualport type='openvswitch'/>
{% endif %}
{% endif %}
{% if nic.mac %}
      <mac address='{{ nic.mac | e }}'/>
{% endif %}
      <model type='{{ nic.model }}'/>
    </interface>
{% endfor %}
{% if serial_console %}
    <serial type='pty'>
{% if console_log %}
      <log file='{{ console_log | e }}' append='on'/>
{% endif %}
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
{% endif %}
{% if vnc_bind_address %}
    <graphics type='vnc' port='-1' autoport='yes' listen='{{ vnc_bind_address | e }}'/>
    <video>
      <model type='vga'/>
    </video>
{% endif %}
    <memballoon model='virtio'/>
  </devices>
</domain>
"""

NIC_MODES = ("bridged", "routed", "openvswitch")

# The hvparam table and its libvirt mappings live in hvparams.py (shared with the coordinator);
# the names stay importable from here.
HVPARAM_DEFAULTS = hvparams.kvm_defaults()


class DomainSpecError(ValueError):
    """An instance spec that cannot become a domain; the message names the bad value."""


def _is_block(disk):
    """Whether the domain gets ``disk`` as a block device: by its kind, except an ext disk,
    whose attach script may print a regular file (file-backed providers): a path that is a
    regular file on this node is given as a file disk."""
    if disk.get("dev_type") == "ext" and os.path.isfile(disk["path"]):
        return False
    return disk.get("dev_type") in hvparams.BLOCK_DEV_TYPES


def _choice(instance, param, value, table):
    if value not in table:
        raise DomainSpecError(
            "instance %s: invalid %s %r (valid: %s)"
            % (instance, param, value, ", ".join(sorted(table))))
    return table[value]


def _int(instance, param, value, minimum=1):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DomainSpecError("instance %s: %s must be an integer, got %r"
                              % (instance, param, value)) from None
    if number < minimum:
        raise DomainSpecError("instance %s: %s must be at least %d, got %d"
                              % (instance, param, minimum, number))
    return number


def _device_name(prefix, index):
    """``vd`` + 0 -> ``vda``; 26 -> ``vdaa`` (libvirt's naming)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return prefix + letters


def build_context(spec, accel_default="kvm"):
    """Return the template context for instance ``spec``; ``accel_default`` replaces an
    empty ``accel`` hvparam (the node's choice, see ``libvirt_domain.node_default_accel``)."""
    if not isinstance(spec, dict) or not spec.get("name"):
        raise DomainSpecError("instance spec must be a dict with a name")
    name = spec["name"]
    hv = dict(HVPARAM_DEFAULTS)
    given = spec.get("hvparams") or {}
    unknown = sorted(key for key in given if key not in HVPARAM_DEFAULTS)
    if unknown:
        raise DomainSpecError("instance %s: unknown hvparam(s) %s (valid: %s)"
                              % (name, ", ".join(unknown), ", ".join(sorted(HVPARAM_DEFAULTS))))
    hv.update({k: v for k, v in given.items() if v is not None})
    be = spec.get("beparams") or {}
    accel = hv["accel"] or accel_default
    domain_type = _choice(name, "hvparam accel", accel, ACCEL_TYPES)
    maxmem = _int(name, "beparam maxmem", be.get("maxmem", spec.get("memory")))
    minmem = _int(name, "beparam minmem", be.get("minmem", maxmem))
    memory = _int(name, "memory", spec.get("memory", maxmem))
    if minmem > maxmem:
        raise DomainSpecError("instance %s: minmem %d MiB is larger than maxmem %d MiB"
                              % (name, minmem, maxmem))
    if memory > maxmem:
        raise DomainSpecError("instance %s: memory %d MiB is larger than maxmem %d MiB"
                              % (name, memory, maxmem))
    bus, prefix = _choice(name, "hvparam disk_type", hv["disk_type"], DISK_BUSES)
    disks = []
    for pos, disk in enumerate(sorted(spec.get("disks") or [],
                                      key=lambda d: d.get("index", 0))):
        if not disk.get("path"):
            raise DomainSpecError("instance %s: disk %s has no path"
                                  % (name, disk.get("index", pos)))
        mode = disk.get("mode") or DISK_MODES[0]
        if mode not in DISK_MODES:
            raise DomainSpecError("instance %s: disk %s has invalid mode %r (valid: %s)"
                                  % (name, disk.get("index", pos), mode, ", ".join(DISK_MODES)))
        disks.append({"path": disk["path"], "bus": bus, "dev": _device_name(prefix, pos),
                      "readonly": mode == hvparams.DISK_MODE_RO,
                      "block": _is_block(disk)})
    model = _choice(name, "hvparam nic_type", hv["nic_type"], NIC_MODELS)
    nics = []
    for pos, nic in enumerate(sorted(spec.get("nics") or [], key=lambda n: n.get("index", 0))):
        mode = nic.get("mode") or "bridged"
        if mode not in NIC_MODES:
            raise DomainSpecError("instance %s: nic %s has invalid mode %r (valid: %s)"
                                  % (name, nic.get("index", pos), mode, ", ".join(NIC_MODES)))
        if mode != "routed" and not nic.get("link"):
            raise DomainSpecError("instance %s: nic %s in %s mode needs a link (bridge)"
                                  % (name, nic.get("index", pos), mode))
        nics.append({"mode": mode, "link": nic.get("link") or "", "mac": nic.get("mac") or "",
                     "model": model})
    serial_console = bool(hv["serial_console"])
    cmdline = []
    if hv["root_path"]:
        cmdline.append("root=%s" % hv["root_path"])
    if hv["kernel_args"]:
        cmdline.append(str(hv["kernel_args"]))
    if serial_console:
        cmdline.append("console=ttyS0,%s" % hv["serial_speed"])
    return {
        "domain_type": domain_type,
        "name": name,
        "uuid": spec.get("uuid") or "",
        "os": spec.get("os") or "",
        "metadata_ns": METADATA_NS,
        "maxmem": maxmem,
        "minmem": minmem,
        "memory": memory,
        "vcpus": _int(name, "beparam vcpus", be.get("vcpus", 1)),
        "boot_dev": _choice(name, "hvparam boot_order", hv["boot_order"], BOOT_DEVICES),
        "kernel_path": hv["kernel_path"] or "",
        "initrd_path": hv["initrd_path"] or "",
        "kernel_cmdline": " ".join(cmdline),
        "cpu_model": hv["cpu_type"] or "",
        "disks": disks,
        "nics": nics,
        "serial_console": serial_console,
        "console_log": spec.get("console_log") or "",
        "vnc_bind_address": hv["vnc_bind_address"] or "",
        "machine": hv["machine_version"] or "",
        "on_reboot": _choice(name, "hvparam reboot_behavior", hv["reboot_behavior"],
                             REBOOT_ACTIONS),
    }


_TEMPLATE_CACHE = []  # type: list  # the compiled template, once

#: Where Jinja keeps the compiled template between module runs (compiling it takes ~50 ms,
#: rendering it ~1 ms). Used only while it and every directory above it are safe from other
#: users: a compiled template is code.
BYTECODE_DIR = "/var/cache/gnt/jinja"


def _private_dir(path):
    """Whether ``path`` is a directory of this user alone (0700) under directories nobody
    else can write to (sticky ones aside)."""
    uid = os.geteuid()
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & 0o077:
        return False
    parent = os.path.dirname(path)
    while parent != path:
        try:
            info = os.lstat(parent)
        except OSError:
            return False
        writable = info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX
        if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (0, uid) or writable:
            return False
        path, parent = parent, os.path.dirname(parent)
    return True


def _bytecode_cache(jinja2):
    """Jinja's bytecode cache in :data:`BYTECODE_DIR` (made when missing), or None when that
    is not private (:func:`_private_dir`)."""
    try:
        os.makedirs(BYTECODE_DIR, mode=0o700)
    except OSError:
        pass  # there already, or not possible: checked next
    if not _private_dir(BYTECODE_DIR):
        return None
    return jinja2.FileSystemBytecodeCache(BYTECODE_DIR)


def _render(context):
    if not _TEMPLATE_CACHE:
        try:
            import jinja2
        except ImportError:
            raise DomainSpecError("rendering the domain XML needs the Python package jinja2 "
                                  "(Debian: python3-jinja2) on this node") from None
        env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, autoescape=False,
                                 undefined=jinja2.StrictUndefined,
                                 loader=jinja2.DictLoader({"domain.xml": DOMAIN_TEMPLATE}),
                                 bytecode_cache=_bytecode_cache(jinja2))
        _TEMPLATE_CACHE.append(env.get_template("domain.xml"))
    return _TEMPLATE_CACHE[0].render(**context)


def render_domain_xml(spec, accel_default="kvm"):
    """Render the libvirt domain XML of instance ``spec``.

    The XML embeds ``spec_hash``: the SHA-256 of the XML rendered with an empty hash, so
    equal specs give equal hashes (see :func:`spec_hash_of`).
    """
    context = build_context(spec, accel_default)
    context["spec_hash"] = ""
    digest = hashlib.sha256(_render(context).encode("utf-8")).hexdigest()
    context["spec_hash"] = digest
    return _render(context)


def spec_hash_of(xml_text):
    """Return the ``spec_hash`` stored in a domain XML's gnt metadata, or ``""``."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return ""
    node = root.find("metadata/{%s}instance/{%s}spec_hash" % (METADATA_NS, METADATA_NS))
    return (node.text or "").strip() if node is not None else ""


def minmem_of(xml_text):
    """Return the minimum memory (MiB) stored in a domain XML's gnt metadata, or ``None``."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return None
    node = root.find("metadata/{%s}instance/{%s}minmem" % (METADATA_NS, METADATA_NS))
    try:
        return int(node.text or "") if node is not None else None
    except (TypeError, ValueError):
        return None
