# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP004, UP009, UP010, UP031 -- Ansible module_utils conventions
"""What the controller-side modules share around the RAPI client: jobs run (as dry runs
in check mode) and recorded for the result, and errors turned into a module failure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gnt.cluster.plugins.module_utils.rapi_client import (
    JobFailed,
    RapiError,
    job_log,
)


class JobTracker(object):
    """Runs a module's jobs and remembers their ids and log lines."""

    def __init__(self, client, check_mode):
        self.client, self.check_mode = client, check_mode
        self.jobs, self.log = [], []

    def run(self, method, path, query=None, body=None):
        """Submit one change and wait for it (a dry run in check mode); the finished job."""
        job = self.client.run_job(method, path, query, body, self.check_mode)
        for one in [job] + job.get("submitted_jobs", []):
            self.jobs.append(one["id"])
            self.log.extend(job_log(one))
        return job

    @property
    def changed(self):
        return bool(self.jobs)


def fail_on_error(module, tracker, action):
    """Run ``action()``; turn a failed job or an error answer into ``module.fail_json``."""
    try:
        return action()
    except JobFailed as err:
        module.fail_json(msg=str(err), jobs=tracker.jobs, job=err.job, log=tracker.log)
    except RapiError as err:
        module.fail_json(msg=str(err), status=err.code, jobs=tracker.jobs, log=tracker.log)
    except ValueError as err:
        module.fail_json(msg="Invalid parameter: %s" % err, jobs=tracker.jobs)
    return None


def exit_with_object(module, tracker, client, path, name, act, view, planned):
    """Run ``act()`` (it returns the object before, or None), read the object at ``path``
    afterwards and exit with it under ``name``, the jobs and (diff mode) ``view(before)`` and
    ``view(after)``, or ``planned(before)`` in check mode where nothing changed."""
    before = fail_on_error(module, tracker, act)
    after = fail_on_error(module, tracker, lambda: client.get_or_none(path))
    result = dict(changed=tracker.changed, jobs=tracker.jobs)
    result[name] = after
    if module._diff:
        result["diff"] = dict(before=view(before),
                              after=planned(before) if module.check_mode else view(after))
    module.exit_json(**result)
