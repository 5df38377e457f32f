# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""Migration of an instance's running domain to another node's libvirtd (peer to peer).

The source libvirtd connects to the destination itself (``VIR_MIGRATE_PEER2PEER``), defines the
domain there (``PERSIST_DEST``) and removes it from the source (``UNDEFINE_SOURCE``) only once
the guest runs on the destination. A failed or aborted migration therefore leaves the guest
running on the source, which every error message here states (with the source state it found).

:func:`plan` is the pure decision (what to do given where the domain is), used for check mode
and idempotence; :func:`migrate` does the work. Errors are :class:`DomainError` from
``libvirt_domain`` with a message naming the domain, the destination and the cause.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
import time

from ansible_collections.gnt.cluster.plugins.module_utils.hvparams import KVM_HVPARAMS
from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_domain import (
    STATE_NAMES,
    DomainError,
    _libvirt,
    connect,
    lookup,
)

# What plan() decides.
MIGRATE = "migrate"
ALREADY_THERE = "already_there"

_ABORT_GRACE = 60.0


def plan(name, source_state, dest_state):
    """Decide what a migration of ``name`` has to do.

    ``source_state``/``dest_state`` are state names (:data:`STATE_NAMES`, or ``"absent"``).
    Returns :data:`MIGRATE` (running on the source; the destination has at most an inactive
    definition, which the migration replaces) or :data:`ALREADY_THERE` (running on the
    destination, nothing active on the source). Raises :class:`DomainError` for every other
    combination, naming both states.
    """
    src_active = source_state not in ("absent", "shutoff", "crashed", "nostate")
    dst_active = dest_state not in ("absent", "shutoff", "crashed", "nostate")
    where = "(source: %s, destination: %s)" % (source_state, dest_state)
    if src_active and dst_active:
        raise DomainError("cannot migrate domain %s: it is active on both the source and the "
                          "destination %s; resolve this by hand" % (name, where))
    if src_active:
        if source_state not in ("running", "paused"):
            raise DomainError("cannot migrate domain %s: its state on the source is %s, not "
                              "running %s" % (name, source_state, where))
        return MIGRATE
    if dst_active:
        return ALREADY_THERE
    if source_state == "absent" and dest_state == "absent":
        raise DomainError("cannot migrate domain %s: it exists neither on the source nor on "
                          "the destination" % name)
    raise DomainError("cannot migrate domain %s: it is not running %s; a stopped instance is "
                      "failed over or moved, not migrated" % (name, where))


def migration_flags(libvirt, live=True, unsafe=False):
    """libvirt flags: PEER2PEER | PERSIST_DEST | UNDEFINE_SOURCE, plus LIVE and UNSAFE."""
    flags = (libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST
             | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
    if live:
        flags |= libvirt.VIR_MIGRATE_LIVE
    if unsafe:
        flags |= libvirt.VIR_MIGRATE_UNSAFE
    return flags


def migration_params(libvirt, bandwidth_mib=None):
    """Typed parameters of ``migrateToURI3`` (bandwidth in MiB/s when given)."""
    params = {}
    if bandwidth_mib:
        params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = int(bandwidth_mib)
    return params


def max_downtime_of(name, hvparams, explicit_ms=None):
    """The maximum switch-over downtime (ms) of migrating instance ``name``.

    ``explicit_ms`` (the module's ``max_downtime_ms``) wins; otherwise the instance's hvparam
    ``migration_downtime`` (its table default when absent). Raises :class:`DomainError`
    naming the value when it is not a positive integer.
    """
    if explicit_ms is not None:
        value, what = explicit_ms, "max_downtime_ms"
    else:
        value = (hvparams or {}).get("migration_downtime")
        if value is None:
            value = KVM_HVPARAMS["migration_downtime"][1]
        what = "hvparam migration_downtime"
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DomainError("domain %s: %s must be an integer (milliseconds), got %r"
                          % (name, what, value)) from None
    if isinstance(value, bool) or number <= 0:
        raise DomainError("domain %s: %s must be a positive number of milliseconds, got %r"
                          % (name, what, value))
    return number


def domain_state(conn, name):
    """State name of the domain ``name`` on ``conn`` (``"absent"`` when not defined)."""
    libvirt = _libvirt()
    dom = lookup(conn, name)
    if dom is None:
        return "absent"
    try:
        return STATE_NAMES.get(dom.info()[0], "nostate")
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return "absent"
        raise DomainError("cannot query domain %s: %s" % (name, err)) from err


def _run_with_timeout(dom, name, call, timeout, clock=time.monotonic):
    """Run ``call()`` (the blocking migration) in a thread; abort the job after ``timeout``
    seconds (0: no limit). Returns nothing; re-raises the call's exception."""
    outcome = {}

    def target():
        try:
            call()
        except Exception as err:  # pylint: disable=broad-except  # re-raised below
            outcome["error"] = err

    worker = threading.Thread(target=target, name="migrate-%s" % name)
    worker.daemon = True
    worker.start()
    worker.join(timeout if timeout and timeout > 0 else None)
    if worker.is_alive():
        libvirt = _libvirt()
        started = clock()
        try:
            dom.abortJob()
        except libvirt.libvirtError:
            pass  # finished or failed just now: the worker reports it
        worker.join(_ABORT_GRACE)
        if "error" in outcome or worker.is_alive():
            raise DomainError("migration did not finish within %d s and was aborted "
                              "(abort took %.1f s)" % (timeout, clock() - started))
    if "error" in outcome:
        raise outcome["error"]


def _completed_stats(dom):
    """Job statistics of the completed (incoming) migration on the destination, or {}."""
    libvirt = _libvirt()
    try:
        return dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED) or {}
    except (libvirt.libvirtError, AttributeError):
        return {}


def _still_on_source(conn, name):
    """Text for error messages: where the guest is after a failed migration."""
    try:
        state = domain_state(conn, name)
    except DomainError as err:
        return "its state on the source could not be read (%s)" % err
    if state in ("running", "paused"):
        return "the domain is still %s on the source node" % state
    return "the domain's state on the source node is now %s" % state


def migrate(conn, name, dest_uri, live=True, unsafe=False, max_downtime_ms=None,
            bandwidth_mib=None, timeout=0, check_mode=False, clock=time.monotonic):
    """Migrate the domain ``name`` from ``conn`` (the source) to ``dest_uri`` (peer to peer).

    Returns a dict: ``changed``, ``action`` (:func:`plan`), ``state`` (on the destination),
    ``source_state``, ``duration_s`` (of the migration call), ``downtime_ms`` and
    ``data_total_mib``/``data_processed_mib`` (libvirt's statistics of the completed job,
    ``None`` when unavailable). Raises :class:`DomainError`; after a failure the guest keeps
    running on the source (libvirt's p2p protocol), and the message says so.
    """
    libvirt = _libvirt()
    try:
        dest = connect(dest_uri)
    except DomainError as err:
        raise DomainError("cannot migrate domain %s: %s; nothing was done, %s"
                          % (name, err, _still_on_source(conn, name))) from err
    try:
        source_state = domain_state(conn, name)
        dest_state = domain_state(dest, name)
        action = plan(name, source_state, dest_state)
        result = {"changed": action == MIGRATE, "action": action, "state": dest_state,
                  "source_state": source_state, "duration_s": 0.0, "downtime_ms": None,
                  "data_total_mib": None, "data_processed_mib": None}
        if action != MIGRATE or check_mode:
            return result
        dom = lookup(conn, name)
        if max_downtime_ms:
            try:
                dom.migrateSetMaxDowntime(int(max_downtime_ms), 0)
            except libvirt.libvirtError as err:
                raise DomainError("cannot set the maximum downtime of domain %s to %d ms: %s; "
                                  "nothing was done" % (name, max_downtime_ms, err)) from err
        flags = migration_flags(libvirt, live, unsafe)
        params = migration_params(libvirt, bandwidth_mib)
        started = clock()
        try:
            _run_with_timeout(dom, name, lambda: dom.migrateToURI3(dest_uri, params, flags),
                              timeout, clock)
        except (libvirt.libvirtError, DomainError) as err:
            raise DomainError("migration of domain %s to %s failed after %.1f s: %s; %s"
                              % (name, dest_uri, clock() - started, err,
                                 _still_on_source(conn, name))) from err
        result["duration_s"] = round(clock() - started, 3)
        moved = lookup(dest, name)
        if moved is None:
            raise DomainError("migration of domain %s to %s reported success but the domain is "
                              "not on the destination; %s"
                              % (name, dest_uri, _still_on_source(conn, name)))
        stats = _completed_stats(moved)
        if "downtime" in stats:
            result["downtime_ms"] = int(stats["downtime"])
        for key in ("data_total", "data_processed"):
            if key in stats:
                result[key + "_mib"] = round(stats[key] / 2.0 ** 20, 1)
        result["state"] = domain_state(dest, name)
        result["source_state"] = domain_state(conn, name)
        return result
    finally:
        dest.close()
