# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP004, UP009, UP010, UP031 -- Ansible module_utils conventions
"""The declarative logic of the ``gnt.cluster.instance`` module over the remote API: what
an instance is, what must change to reach the wanted state, and the jobs that do it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gnt.cluster.plugins.module_utils.rapi_client import job_log, quoted
from ansible_collections.gnt.cluster.plugins.module_utils.units import UnitError, parse_size_mib

RUNNING = ("running",)
SIZE_BEPARAMS = ("maxmem", "minmem", "memory")
# Module options that are instance creation parameters of the remote API (same names).
CREATE_OPTIONS = ("disk_template", "hypervisor", "iallocator", "name_check", "ip_check",
                  "no_install", "wait_for_sync", "hvparams", "osparams", "file_storage_dir",
                  "file_driver", "opportunistic_locking", "force_variant")


class ParameterError(ValueError):
    """A module parameter that cannot be used; the message names it."""


def is_running(instance):
    return instance.get("oper_state") is True or instance.get("status") in RUNNING


def normalise_beparams(beparams):
    """Backend parameters as the cluster stores them: sizes in MiB (``memory`` sets both
    ``maxmem`` and ``minmem``), booleans and integers as such."""
    result = {}
    for key, value in (beparams or {}).items():
        if key in SIZE_BEPARAMS:
            try:
                mib = parse_size_mib(value)
            except UnitError as err:
                raise ParameterError("beparams.%s: %s" % (key, err)) from err
            if key == "memory":
                result.setdefault("maxmem", mib)
                result.setdefault("minmem", mib)
            else:
                result[key] = mib
        else:
            result[key] = value
    return result


def _same(current, wanted):
    if isinstance(current, bool) or isinstance(wanted, bool):
        return str(current).lower() == str(wanted).lower()
    if isinstance(current, int) and not isinstance(wanted, bool):
        try:
            return int(wanted) == current
        except (TypeError, ValueError):
            return False
    return str(current) == str(wanted)


def param_changes(instance, params):
    """{"beparams": {...}, "hvparams": {...}, "osparams": {...}} of the wanted values that
    differ from the instance's (effective backend/hypervisor values, own OS values)."""
    changes = {}
    current = {"beparams": instance.get("beparams") or {},
               "hvparams": instance.get("hvparams") or {},
               "osparams": instance.get("custom_osparams") or {}}
    wanted = {"beparams": normalise_beparams(params.get("beparams")),
              "hvparams": params.get("hvparams") or {},
              "osparams": params.get("osparams") or {}}
    for kind in ("beparams", "hvparams", "osparams"):
        diff = dict((key, value) for key, value in wanted[kind].items()
                    if key not in current[kind] or not _same(current[kind][key], value))
        if diff:
            changes[kind] = diff
    return changes


def create_body(params):
    """The RAPI creation body (version 1) of the module's parameters."""
    if not params.get("os") and params.get("disk_template", "file") != "diskless":
        raise ParameterError("os is required to create an instance with disks")
    disks = []
    for index, disk in enumerate(params.get("disks") or []):
        disk = dict(disk)
        if "size" not in disk:
            raise ParameterError("disks[%d]: size is required" % index)
        try:
            disk["size"] = parse_size_mib(disk["size"])
        except UnitError as err:
            raise ParameterError("disks[%d].size: %s" % (index, err)) from err
        disks.append(disk)
    body = {"__version__": 1, "mode": "create", "name": params["name"],
            "disks": disks, "nics": params.get("nics") if params.get("nics") is not None
            else [{}], "start": params["state"] in ("present", "started", "restarted")
            and params.get("start", True)}
    if params.get("os"):
        body["os"] = params["os"]
    if params.get("primary_node"):
        body["pnode"] = params["primary_node"]
    if params.get("beparams"):
        body["beparams"] = normalise_beparams(params["beparams"])
    if params.get("tags"):
        body["tags"] = list(params["tags"])
    for key in CREATE_OPTIONS:
        if params.get(key) is not None:
            body[key] = params[key]
    return body


def summary(instance):
    """What diff mode shows of an instance (or of its absence)."""
    if instance is None:
        return {"state": "absent"}
    return {"state": "running" if is_running(instance) else "stopped",
            "admin_state": instance.get("admin_state"),
            "primary_node": instance.get("pnode"),
            "os": instance.get("os"),
            "disk_template": instance.get("disk_template"),
            "disk_sizes": instance.get("disk.sizes"),
            "beparams": instance.get("beparams"),
            "custom_hvparams": instance.get("custom_hvparams"),
            "custom_osparams": instance.get("custom_osparams"),
            "tags": sorted(instance.get("tags") or [])}


def predicted(before, params):
    """What diff mode shows as "after" in check mode: the wanted state over the current."""
    state = params["state"]
    if state == "absent":
        return {"state": "absent"}
    after = dict(summary(before)) if before is not None else {
        "state": "stopped", "admin_state": "down", "primary_node": params.get("primary_node"),
        "os": params.get("os"), "disk_template": params.get("disk_template"),
        "disk_sizes": [disk.get("size") for disk in params.get("disks") or []],
        "beparams": {}, "custom_hvparams": {}, "custom_osparams": {}, "tags": []}
    if state in ("started", "restarted") or (before is None and state == "present"
                                             and params.get("start", True)):
        after["state"], after["admin_state"] = "running", "up"
    elif state == "stopped":
        after["state"], after["admin_state"] = "stopped", "down"
    after["beparams"] = dict(after.get("beparams") or {},
                             **normalise_beparams(params.get("beparams")))
    after["custom_hvparams"] = dict(after.get("custom_hvparams") or {},
                                    **(params.get("hvparams") or {}))
    after["custom_osparams"] = dict(after.get("custom_osparams") or {},
                                    **(params.get("osparams") or {}))
    after["tags"] = sorted(set(after.get("tags") or []) | set(params.get("tags") or []))
    if state in ("migrated", "failed_over") and params.get("target_node"):
        after["primary_node"] = params["target_node"]
    return after


class InstanceReconciler(object):
    """Brings one instance to the wanted state with the fewest jobs; records what it did."""

    def __init__(self, client, params, check_mode):
        self.client, self.params, self.check_mode = client, params, check_mode
        self.name = params["name"]
        self.path = "/2/instances/%s" % quoted(self.name)
        self.jobs = []
        self.log = []
        self.warnings = []

    def _job(self, method, suffix, query=None, body=None, path=None):
        """Run one job (as a dry run in check mode) on this instance's ``suffix`` resource."""
        job = self.client.run_job(method, path or self.path + suffix, query, body,
                                  self.check_mode)
        self.jobs.append(job["id"])
        self.log.extend(job_log(job))
        return job

    def reconcile(self):
        """Run the needed jobs; the instance before (None if absent)."""
        state = self.params["state"]
        before = self.client.instance(self.name)
        if state == "absent":
            if before is not None:
                self._job("DELETE", "")
            return before
        if before is None:
            self._job("POST", "", body=create_body(self.params), path="/2/instances")
            return before
        self._modify(before)
        self._tags(before)
        self._runtime_state(before)
        return before

    def _modify(self, before):
        changes = param_changes(before, self.params)
        if changes:
            self._job("PUT", "/modify", None, changes)
        for key, option in (("os", "os"), ("disk_template", "disk_template"),
                            ("pnode", "primary_node")):
            wanted = self.params.get(option)
            if wanted and before.get(key) and wanted != before.get(key):
                self.warnings.append("%s is %s, not %s: an existing instance's %s is not"
                                     " changed by this module" % (option, before.get(key),
                                                                  wanted, option))

    def _tags(self, before):
        missing = sorted(set(self.params.get("tags") or []) - set(before.get("tags") or []))
        if missing:
            self._job("PUT", "/tags", [("tag", tag) for tag in missing])

    def _runtime_state(self, before):
        state = self.params["state"]
        running = is_running(before)
        if state == "started" and not running:
            self._job("PUT", "/startup")
        elif state == "stopped" and (running or before.get("admin_state") == "up"):
            body = {}
            if self.params.get("shutdown_timeout") is not None:
                body["timeout"] = self.params["shutdown_timeout"]
            self._job("PUT", "/shutdown", None, body or None)
        elif state == "restarted":
            self._job("POST", "/reboot", [("type", self.params.get("reboot_type") or "hard")])
        elif state in ("migrated", "failed_over"):
            self._move(before, state)

    def _move(self, before, state):
        target = self.params.get("target_node")
        if target and target == before.get("pnode"):
            return
        body = {}
        if target:
            body["target_node"] = target
        elif self.params.get("iallocator"):
            body["iallocator"] = self.params["iallocator"]
        else:
            raise ParameterError("state=%s needs target_node or iallocator" % state)
        self._job("PUT", "/migrate" if state == "migrated" else "/failover", None, body)
