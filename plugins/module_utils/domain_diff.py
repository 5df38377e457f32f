# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""What diff mode shows of an instance's libvirt domain (``gnt.cluster.domain``).

A domain is shown as text: one XML comment line with its state (and runtime memory when a
task sets it), then its persistent definition as libvirt holds it. An absent domain is the
empty text. Ansible's diff callback then prints a unified diff of the definition.

:func:`snapshot` reads a domain; :func:`planned` predicts the domain after an operation for
check mode (the rendered definition stands for the one libvirt would store, which libvirt
normalises when it is really defined); :func:`diff_text` turns either into the diff text.
Nothing here changes a domain.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_domain import (
    definition_outdated,
    lookup,
    status,
)


def _definition(dom):
    """The persistent definition of ``dom`` (the live XML of a transient domain)."""
    import libvirt  # the caller holds a connection, so the binding is there

    if dom.isPersistent():
        return dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    return dom.XMLDesc(0)


def snapshot(conn, name, xml_text=None):
    """Return ``{"state", "memory_mib", "xml", "outdated"}`` of the domain ``name`` now.

    ``outdated`` (only meaningful with ``xml_text``, a rendered spec) says whether defining
    ``xml_text`` would change the persistent definition."""
    dom = lookup(conn, name)
    info = status(dom, name)
    view = {"state": info["state"], "memory_mib": info["memory_mib"], "xml": "",
            "outdated": True}
    if dom is not None and info["state"] != "absent":
        view["xml"] = _definition(dom)
        if xml_text is not None:
            view["outdated"] = definition_outdated(dom, xml_text)
    return view


def planned(before, state, xml_text=None, memory_mib=None, reboot_type="soft"):
    """The domain as an operation with these module parameters would leave ``before`` (a
    :func:`snapshot`); used for diff mode in check mode."""
    after = dict(before)
    active = before["state"] not in ("absent", "shutoff", "crashed", "nostate")
    redefine = xml_text is not None and before["outdated"]
    if state == "absent":
        return {"state": "absent", "memory_mib": 0, "xml": "", "outdated": True}
    if state == "shutdown":
        if active:
            after["state"] = "shutoff"
        return after
    if state == "defined":
        if redefine:
            after["xml"] = xml_text
            if before["state"] == "absent":
                after["state"] = "shutoff"
        return after
    if state == "running":
        if not active and redefine:
            after["xml"] = xml_text
        after["state"] = "running"
        if memory_mib is not None:
            after["memory_mib"] = memory_mib
        return after
    if state == "rebooted" and xml_text is not None:
        if redefine and (reboot_type != "soft" or not active):
            after["xml"] = xml_text
        after["state"] = "running"  # a domain that was not running is started
    return after


def diff_text(view, name, show_memory=False):
    """The text diff mode shows for a :func:`snapshot` or :func:`planned` view."""
    if view["state"] == "absent":
        return ""
    header = "<!-- domain %s: state %s" % (name, view["state"])
    if show_memory:
        header += ", memory %d MiB" % view["memory_mib"]
    return header + " -->\n" + view["xml"].rstrip("\n") + "\n"


def domain_diff(before, after, name, show_memory=False):
    """Ansible's ``diff`` result for a domain going from ``before`` to ``after``."""
    return {"before": diff_text(before, name, show_memory),
            "after": diff_text(after, name, show_memory),
            "before_header": "domain %s" % name, "after_header": "domain %s" % name}
