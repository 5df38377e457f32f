# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP004, UP009, UP010, UP031 -- Ansible module_utils conventions
"""The one client of the cluster's remote API (Ganeti RAPI v2) for the controller-side
modules and the inventory plugin: requests over HTTPS with Basic authentication, Ganeti's
error bodies turned into :class:`RapiError`, and jobs followed to their end.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import quote, urlencode
from ansible.module_utils.urls import open_url

# The connection options every controller-side module takes (doc fragment gnt.cluster.rapi;
# module_defaults for the action group gnt.cluster.rapi sets them once).
RAPI_ARGUMENT_SPEC = dict(
    host=dict(type="str", default="localhost"),
    port=dict(type="int", default=5080),
    user=dict(type="str"),
    password=dict(type="str", no_log=True),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    timeout=dict(type="int", default=60),
    job_timeout=dict(type="int", default=3600),
)
FINISHED = ("success", "error", "canceled")


class RapiError(Exception):
    """An error answer of the remote API (``code`` is the HTTP status, 0 if none)."""

    def __init__(self, message, code=0):
        super().__init__(message)
        self.code = code


class JobFailed(Exception):
    """A job that ended in error or was canceled; ``job`` is its RAPI description."""

    def __init__(self, message, job):
        super().__init__(message)
        self.job = job


def rapi_argument_spec(**extra):
    """The connection options plus a module's own."""
    spec = dict((key, dict(value)) for key, value in RAPI_ARGUMENT_SPEC.items())
    spec.update(extra)
    return spec


def quoted(name):
    """An object name as a URL path segment."""
    return quote(str(name), safe="")


class RapiClient(object):
    """Requests to one cluster's remote API."""

    def __init__(self, host="localhost", port=5080, user=None, password=None,
                 validate_certs=True, ca_path=None, timeout=60, job_timeout=3600, **_ignored):
        self.base = "https://%s:%d" % (host, port)
        self.user, self.password = user, password
        self.validate_certs, self.ca_path = validate_certs, ca_path
        self.timeout, self.job_timeout = timeout, job_timeout

    @classmethod
    def from_module(cls, module):
        """The client for an AnsibleModule's connection options."""
        return cls(**dict((key, module.params.get(key)) for key in RAPI_ARGUMENT_SPEC))

    def request(self, method, path, query=None, body=None):
        """The decoded JSON answer of ``method path``; RapiError for an error answer."""
        url = self.base + path
        if query:
            url += "?" + urlencode([(k, v) for k, v in query if v is not None])
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            response = open_url(url, data=data, method=method, headers=headers,
                                url_username=self.user, url_password=self.password,
                                force_basic_auth=self.user is not None,
                                validate_certs=self.validate_certs, ca_path=self.ca_path,
                                timeout=self.timeout)
            text = response.read()
        except HTTPError as err:
            raise RapiError(self._error_text(err), err.code) from err
        except URLError as err:
            raise RapiError("Cannot reach the remote API at %s: %s" % (self.base, err.reason)) from err
        except (OSError, ValueError) as err:
            raise RapiError("Request %s %s failed: %s" % (method, path, err)) from err
        return json.loads(text) if text else None

    @staticmethod
    def _error_text(err):
        try:
            body = json.loads(err.read())
            return "%s %s: %s" % (body["code"], body["message"], body["explain"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return "HTTP %s %s" % (err.code, err.reason)

    # -- objects ---------------------------------------------------------------------
    def get_or_none(self, path):
        """The object at ``path``, or None if the remote API answers 404."""
        try:
            return self.request("GET", path)
        except RapiError as err:
            if err.code == 404:
                return None
            raise

    def instance(self, name):
        return self.get_or_none("/2/instances/%s" % quoted(name))

    # -- jobs ------------------------------------------------------------------------
    def job(self, job_id):
        return self.request("GET", "/2/jobs/%s" % int(job_id))

    def wait_for_job(self, job_id, poll=0.5):
        """The finished job's description; JobFailed (with the job's error) unless success."""
        deadline = time.time() + self.job_timeout
        while True:
            job = self.job(job_id)
            if job["status"] in FINISHED:
                break
            if time.time() > deadline:
                raise RapiError("Job %s did not finish within %d s (status %s)"
                                % (job_id, self.job_timeout, job["status"]))
            time.sleep(poll)
        if job["status"] != "success":
            raise JobFailed("Job %s %s: %s" % (job_id, job["status"], job_error(job)), job)
        return job

    def run_job(self, method, path, query=None, body=None, check_mode=False):
        """Submit a change (as a dry run in check mode) and wait for it; the finished job."""
        query = list(query or [])
        if check_mode:
            query.append(("dry-run", 1))
        job_id = self.request(method, path, query, body)
        return self.follow_submitted(self.wait_for_job(job_id))

    def follow_submitted(self, job):
        """Wait for the jobs ``job``'s opcodes submitted (Ganeti's "ResultWithJobs": node
        evacuate and migrate submit one job per instance), as Ganeti's CLI does; they are
        listed in ``job["submitted_jobs"]``. JobFailed names the first that failed or could
        not be submitted."""
        job["submitted_jobs"] = []
        for result in job.get("opresult") or []:
            if not isinstance(result, dict) or not isinstance(result.get("jobs"), list):
                continue
            for entry in result["jobs"]:
                submitted, value = entry[0], entry[1]
                if not submitted:
                    raise JobFailed("Job %s could not submit a job: %s" % (job["id"], value),
                                    job)
                job["submitted_jobs"].append(self.wait_for_job(value))
        return job


def job_error(job):
    """The error of a failed job as its opcodes report it."""
    for status, result in zip(job.get("opstatus") or [], job.get("opresult") or []):
        if status == "error":
            if isinstance(result, dict):
                args = result.get("args") or [result.get("message")]
                return str(args[0])
            if isinstance(result, (list, tuple)) and len(result) == 2:
                return str((result[1] or [result[0]])[0])
            return str(result)
    return "job %s" % job.get("status")


def job_log(job):
    """The job's log messages, in order."""
    lines = []
    for op_log in job.get("oplog") or []:
        for entry in op_log:
            lines.append(str(entry[-1]))
    return lines
