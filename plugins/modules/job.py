#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: job
short_description: Wait for or cancel a job of a gnt.cluster (Ganeti) cluster
description:
  - Waits until a job has finished (failing if it did not succeed), or cancels a job that
    has not started running yet, through the cluster's remote API.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
extends_documentation_fragment:
  - gnt.cluster.rapi
options:
  id:
    description: The job's id.
    type: int
    required: true
  state:
    description:
      - V(finished) - wait for it; fail unless it succeeded.
      - V(canceled) - cancel it (a change only if it was still waiting to run).
    type: str
    default: finished
    choices: [finished, canceled]
attributes:
  check_mode:
    support: full
    description: In check mode a cancel is not sent; waiting works as usual.
  diff_mode:
    support: partial
    description:
      - A cancel shows the job's status before and after (in check mode, C(canceled) as it
        would be). Waiting changes nothing and shows no diff.
"""

EXAMPLES = r"""
- name: Wait for a job submitted elsewhere
  gnt.cluster.job:
    id: "{{ submitted_job }}"

- name: Cancel a queued job
  gnt.cluster.job:
    id: 42
    state: canceled
"""

RETURN = r"""
job:
  description: The job as C(GET /2/jobs/ID) describes it (status, opcodes, results, log).
  returned: always
  type: dict
log:
  description: The job's log messages.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.rapi_client import (
    FINISHED,
    JobFailed,
    RapiClient,
    RapiError,
    job_log,
    rapi_argument_spec,
)


def main():
    module = AnsibleModule(
        argument_spec=rapi_argument_spec(
            id=dict(type="int", required=True),
            state=dict(type="str", default="finished", choices=["finished", "canceled"])),
        supports_check_mode=True)
    client = RapiClient.from_module(module)
    job_id = module.params["id"]
    try:
        if module.params["state"] == "finished":
            job = client.wait_for_job(job_id)
            module.exit_json(changed=False, job=job, log=job_log(job))
        job = client.job(job_id)
        if job["status"] in FINISHED or job["status"] == "running":
            module.exit_json(changed=False, job=job, log=job_log(job),
                             msg="Job %s is %s: nothing to cancel" % (job_id, job["status"]))
        before = job["status"]
        if not module.check_mode:
            answer = client.request("DELETE", "/2/jobs/%d" % job_id)
            if not answer or not answer[0]:
                module.fail_json(msg="Job %s was not canceled: %s" % (job_id, answer))
            job = client.job(job_id)
        extra = {}
        if module._diff:
            after = "canceled" if module.check_mode else job["status"]
            extra["diff"] = {"before": {"id": job_id, "status": before},
                             "after": {"id": job_id, "status": after}}
        module.exit_json(changed=True, job=job, log=job_log(job), **extra)
    except JobFailed as err:
        module.fail_json(msg=str(err), job=err.job, log=job_log(err.job))
    except RapiError as err:
        module.fail_json(msg=str(err), status=err.code)


if __name__ == "__main__":
    main()
