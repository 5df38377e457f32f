# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""Instance domains on a node's libvirt: define, start, stop, reboot, undefine, query.

Everything takes an open libvirt connection (:func:`connect`) so a caller pays for one
connection per operation. The ``libvirt`` Python binding is imported lazily: importing this
module costs nothing and works on a machine without it; the coordinator uses the light
helpers :func:`list_domains` and :func:`node_default_accel` for live queries.

Operations return plain dicts and raise :class:`DomainError` with a message that names the
domain and the cause. Operations that change something take ``check_mode``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time
import xml.etree.ElementTree as ET

from ansible_collections.gnt.cluster.plugins.module_utils.domain_xml import (
    minmem_of,
    render_domain_xml,
    spec_hash_of,
)

# libvirt's virDomainState values, as names.
STATE_NAMES = {
    0: "nostate",
    1: "running",
    2: "running",  # blocked: running, vCPUs idle
    3: "paused",
    4: "shutdown",  # being shut down, still active
    5: "shutoff",
    6: "crashed",
    7: "pmsuspended",
}

#: How often a shutdown checks whether the guest is off: every 5 ms at first (a small guest
#: powers off within tens of milliseconds of the ACPI request, and QEMU's exit takes another
#: ~0.2 s), then at most every 20 ms for the first 2 s (a local libvirt call costs well under
#: a millisecond, so this costs nothing and a poll never adds more than 20 ms to a quick
#: shutdown), then less often, up to every 0.1 s, for a guest that takes its time.
_POLL_FIRST = 0.005
_POLL_FINE = 0.02
_POLL_FINE_FOR = 2.0
_POLL_INTERVAL = 0.1


def poll_intervals(first=_POLL_FIRST, fine=_POLL_FINE, fine_for=_POLL_FINE_FOR,
                   longest=_POLL_INTERVAL, factor=1.5):
    """Yield the waits between checks: ``first``, growing by ``factor`` up to ``fine`` while
    less than ``fine_for`` seconds were waited, then up to ``longest``."""
    wait, waited = first, 0.0
    while True:
        yield wait
        waited += wait
        wait = min(fine if waited < fine_for else longest, wait * factor)


class DomainError(Exception):
    """A domain operation that failed; the message names the domain and the cause."""


def _libvirt():
    try:
        import libvirt
    except ImportError:
        raise DomainError("the Python libvirt binding is missing on this node "
                          "(Debian: python3-libvirt)") from None
    # Silence libvirt's default handler that prints every error to stderr.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    return libvirt


def node_default_accel(dev_kvm="/dev/kvm", pvm_marker="/sys/module/kvm_pvm"):
    """Return ``"kvm"`` if guests can use KVM on this node, else ``"tcg"``.

    KVM is chosen only when ``/dev/kvm`` opens read-write AND ``/sys/module/kvm_pvm`` is
    absent. ``kvm_pvm`` (KVM on a paravirtualised host) creates a working ``/dev/kvm`` and a
    domain with no OS starts under it, but a stock Linux kernel fails in it (emulation failure
    on ``lock cmpxchg16b``; ``-cpu host`` aborts on an MSR), so guests with an OS must run
    under TCG there.
    """
    if os.path.exists(pvm_marker):
        return "tcg"
    try:
        fd = os.open(dev_kvm, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return "tcg"
    os.close(fd)
    return "kvm"


def connect(uri):
    """Open a read-write connection to ``uri``; raises :class:`DomainError` if unreachable."""
    libvirt = _libvirt()
    try:
        return libvirt.open(uri)
    except libvirt.libvirtError as err:
        raise DomainError("cannot connect to libvirt at %s: %s" % (uri, err)) from err


def list_domains(uri):
    """Return ``{name: {"state", "memory_mib", "maxmem_mib", "vcpus", "id"}}`` for all
    domains (running and defined) at ``uri``. One connection, one listing; ``id`` is -1 for
    inactive domains and ``state`` a name from :data:`STATE_NAMES`."""
    libvirt = _libvirt()
    conn = connect(uri)
    try:
        result = {}
        for dom in conn.listAllDomains(0):
            try:
                state, maxmem_kib, mem_kib, vcpus, _cpu = dom.info()
                result[dom.name()] = {
                    "state": STATE_NAMES.get(state, "nostate"),
                    "memory_mib": mem_kib // 1024,
                    "maxmem_mib": maxmem_kib // 1024,
                    "vcpus": vcpus,
                    "id": dom.ID(),
                }
            except libvirt.libvirtError:
                continue  # vanished between listing and info (transient domain stopped)
        return result
    finally:
        conn.close()


def lookup(conn, name):
    """Return the domain called ``name`` or ``None``."""
    libvirt = _libvirt()
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise DomainError("cannot look up domain %s: %s" % (name, err)) from err


def console_info(xml_text):
    """Return ``{"pty": path or None, "log": path or None}`` of the first serial console."""
    result = {"pty": None, "log": None}  # type: dict[str, str | None]
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return result
    serial = root.find("devices/serial")
    if serial is None:
        return result
    source = serial.find("source")
    if source is not None and serial.get("type") == "pty":
        result["pty"] = source.get("path")
    log = serial.find("log")
    if log is not None:
        result["log"] = log.get("file")
    return result


def status(dom, name=None, with_xml=False):
    """Return the status dict of ``dom`` (``None`` = absent): state, id, memory_mib,
    maxmem_mib, vcpus, persistent, console and, with ``with_xml``, the live XML."""
    if dom is None:
        result = {"name": name, "state": "absent", "id": -1, "memory_mib": 0, "maxmem_mib": 0,
                  "vcpus": 0, "persistent": False, "console": {"pty": None, "log": None}}
        if with_xml:
            result["xml"] = ""
        return result
    libvirt = _libvirt()
    try:
        state, maxmem_kib, mem_kib, vcpus, _cpu = dom.info()
        xml_text = dom.XMLDesc(0)
        result = {
            "name": dom.name(),
            "state": STATE_NAMES.get(state, "nostate"),
            "id": dom.ID(),
            "memory_mib": mem_kib // 1024,
            "maxmem_mib": maxmem_kib // 1024,
            "vcpus": vcpus,
            "persistent": bool(dom.isPersistent()),
            "console": console_info(xml_text),
        }
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return status(None, name, with_xml)
        raise DomainError("cannot query domain %s: %s" % (name or dom.name(), err)) from err
    if with_xml:
        result["xml"] = xml_text
    return result


def describe(conn, name, xml_text=None, with_xml=False):
    """Return the :func:`status` of the domain ``name`` (absent included) and, when
    ``xml_text`` (a rendered spec) is given, ``definition_outdated``. Changes nothing."""
    dom = lookup(conn, name)
    result = status(dom, name, with_xml=with_xml)
    if xml_text is not None:
        result["definition_outdated"] = definition_outdated(dom, xml_text)
    return result


def _is_active(dom):
    libvirt = _libvirt()
    try:
        return bool(dom.isActive())
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return False
        raise


def definition_outdated(dom, xml_text):
    """True when ``dom`` has no persistent definition or one rendered from another spec."""
    if dom is None or not dom.isPersistent():
        return True
    libvirt = _libvirt()
    flags = libvirt.VIR_DOMAIN_XML_INACTIVE
    return spec_hash_of(dom.XMLDesc(flags)) != spec_hash_of(xml_text)


def render(spec, accel_default=None):
    """Render the XML of ``spec`` with the node default acceleration when none is set."""
    return render_domain_xml(spec, accel_default or node_default_accel())


def ensure_defined(conn, spec, xml_text=None, check_mode=False):
    """Define (or redefine) the persistent domain of ``spec`` unless it already matches.

    A running domain keeps running; its new definition applies at its next start.
    Returns ``True`` when the definition changed (or would, in check mode).
    """
    name = spec["name"]
    xml_text = xml_text or render(spec)
    dom = lookup(conn, name)
    if not definition_outdated(dom, xml_text):
        return False
    if check_mode:
        return True
    _prepare_console_log(spec)
    libvirt = _libvirt()
    try:
        conn.defineXML(xml_text)
    except libvirt.libvirtError as err:
        raise DomainError("cannot define domain %s: %s" % (name, err)) from err
    return True


def _prepare_console_log(spec):
    """Create the directory of the spec's console log (QEMU only creates the file)."""
    console_log = spec.get("console_log")
    directory = os.path.dirname(console_log or "")
    if directory and not os.path.isdir(directory):
        try:
            os.makedirs(directory, 0o755)
        except OSError as err:
            raise DomainError("cannot create the console log directory %s of domain %s: %s"
                              % (directory, spec["name"], err.strerror)) from err


def ensure_running(conn, spec, check_mode=False, xml_text=None):
    """Start the domain of ``spec``; when it is not running, (re)define it first so the
    spec's current configuration takes effect (``xml_text``: the spec already rendered).
    A paused domain is resumed. Returns ``True`` when something changed."""
    name = spec["name"]
    libvirt = _libvirt()
    dom = lookup(conn, name)
    if dom is not None and _is_active(dom):
        if dom.info()[0] == libvirt.VIR_DOMAIN_PAUSED:
            if not check_mode:
                try:
                    dom.resume()
                except libvirt.libvirtError as err:
                    raise DomainError("cannot resume domain %s: %s" % (name, err)) from err
            return True
        return False
    if check_mode:
        return True
    ensure_defined(conn, spec, xml_text)
    _prepare_console_log(spec)
    dom = lookup(conn, name)
    try:
        dom.create()
    except libvirt.libvirtError as err:
        raise DomainError("cannot start domain %s: %s" % (name, err)) from err
    return True


def ensure_shutdown(conn, name, timeout=120, check_mode=False, clock=time.monotonic,
                    sleep=time.sleep):
    """Shut the domain ``name`` down: ACPI power button, wait up to ``timeout`` seconds,
    then force it off. ``timeout`` 0 forces it off at once.

    Returns ``(changed, forced)``. An absent or stopped domain is left alone.
    """
    libvirt = _libvirt()
    dom = lookup(conn, name)
    if dom is None or not _is_active(dom):
        return False, False
    if check_mode:
        return True, False
    if timeout > 0:
        try:
            dom.shutdown()
        except libvirt.libvirtError as err:
            if not _is_active(dom):
                return True, False
            raise DomainError("cannot send ACPI shutdown to domain %s: %s" % (name, err)) from err
        deadline = clock() + timeout
        waits = poll_intervals()
        while clock() < deadline:
            if not _is_active(dom):
                return True, False
            sleep(min(next(waits), max(0.0, deadline - clock())))
        if not _is_active(dom):
            return True, False
    _destroy(dom, name)
    return True, True


def _destroy(dom, name):
    libvirt = _libvirt()
    try:
        dom.destroy()
    except libvirt.libvirtError as err:
        if _is_active(dom):
            raise DomainError("cannot force off domain %s: %s" % (name, err)) from err


def reboot(conn, name, reboot_type="soft", spec=None, check_mode=False, shutdown_timeout=120,
           xml_text=None):
    """Reboot the domain ``name``, as Ganeti's instance reboot.

    ``soft``: ACPI reboot request (libvirt ``reboot()``; the guest must react to it).
    ``hard``: force off, redefine from ``spec`` and start again.
    ``full``: shut down (ACPI, forced off after ``shutdown_timeout`` seconds), redefine from
    ``spec`` and start again.
    A domain that is not running is started from ``spec`` whatever the type. Raises
    :class:`DomainError` when ``spec`` is needed (hard, full, not running) and missing.
    """
    libvirt = _libvirt()
    dom = lookup(conn, name)
    running = dom is not None and _is_active(dom)
    if spec is None and not running:
        raise DomainError("cannot reboot domain %s: it is not running" % name)
    if spec is None and reboot_type != "soft":
        raise DomainError("cannot %s-reboot domain %s: no spec given to restart it from"
                          % (reboot_type, name))
    if check_mode:
        return True
    if running and reboot_type == "soft":
        try:
            dom.reboot(0)
        except libvirt.libvirtError as err:
            raise DomainError("cannot reboot domain %s: %s" % (name, err)) from err
        return True
    if running and reboot_type == "full":
        ensure_shutdown(conn, name, shutdown_timeout)
    elif running:
        _destroy(dom, name)
    ensure_running(conn, spec, xml_text=xml_text)
    return True


def ensure_absent(conn, name, check_mode=False):
    """Force the domain ``name`` off and undefine it. Returns ``True`` when it existed."""
    libvirt = _libvirt()
    dom = lookup(conn, name)
    if dom is None:
        return False
    if check_mode:
        return True
    if _is_active(dom):
        _destroy(dom, name)
    dom = lookup(conn, name)  # a transient domain is gone once destroyed
    if dom is not None:
        flags = 0
        for flag in ("VIR_DOMAIN_UNDEFINE_MANAGED_SAVE", "VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA",
                     "VIR_DOMAIN_UNDEFINE_NVRAM", "VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA"):
            flags |= getattr(libvirt, flag, 0)
        try:
            dom.undefineFlags(flags)
        except libvirt.libvirtError as err:
            if lookup(conn, name) is not None:
                raise DomainError("cannot undefine domain %s: %s" % (name, err)) from err
    return True


def memory_bounds(dom, spec=None):
    """Return ``(minmem, maxmem)`` in MiB for runtime memory changes of ``dom``: from the
    spec's beparams when given, else from the domain (gnt metadata and max memory)."""
    if spec is not None:
        be = spec.get("beparams") or {}
        maxmem = int(be.get("maxmem", spec.get("memory") or 0))
        return int(be.get("minmem", maxmem)), maxmem
    libvirt = _libvirt()
    maxmem = dom.maxMemory() // 1024
    minmem = minmem_of(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
                       if dom.isPersistent() else dom.XMLDesc(0))
    return (minmem if minmem is not None else 1), maxmem


def set_memory(conn, name, memory_mib, spec=None, check_mode=False):
    """Set the runtime (balloon) memory of the running domain ``name`` to ``memory_mib``.

    The value must lie within the instance's minmem..maxmem. Returns ``True`` when the
    current memory differed. The guest needs a balloon driver to actually give memory back;
    libvirt reports the new size once the guest has done so.
    """
    libvirt = _libvirt()
    dom = lookup(conn, name)
    if dom is None or not _is_active(dom):
        raise DomainError("cannot set memory of domain %s: it is not running" % name)
    minmem, maxmem = memory_bounds(dom, spec)
    if not minmem <= memory_mib <= maxmem:
        raise DomainError("cannot set memory of domain %s to %d MiB: outside its range "
                          "minmem..maxmem = %d..%d MiB" % (name, memory_mib, minmem, maxmem))
    if dom.info()[2] // 1024 == memory_mib:
        return False
    if check_mode:
        return True
    try:
        dom.setMemoryFlags(memory_mib * 1024, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    except libvirt.libvirtError as err:
        raise DomainError("cannot set memory of domain %s to %d MiB: %s"
                          % (name, memory_mib, err)) from err
    return True
