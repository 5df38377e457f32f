"""Adding and replacing job filter rules in the master daemon (Ganeti's luxi call
ReplaceFilter): check, stamp the watermark, write the config, tell the scheduler."""

from __future__ import annotations

import time
import uuid as uuidlib
from typing import Any

from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.jobs import filters

# The reason trail entry the daemon appends to a rule's reason (Ganeti's luxid does so).
REASON_SOURCE = "luxid"


def _check_uuid(value: str) -> str:
    try:
        return str(uuidlib.UUID(value))
    except (ValueError, AttributeError, TypeError) as err:
        raise OpPrereqError(f"Invalid filter rule UUID '{value}': unable to parse UUID",
                            ECODE_INVAL) from err


def replace(master: Any, uuid: str | None, priority: Any, predicates: Any, action: Any,
            reason: Any) -> str:
    """Add (``uuid`` None: a new UUID) or replace the rule; returns its UUID. Bad values
    raise :class:`OpPrereqError` naming them, before anything changes."""
    rule_uuid = str(uuidlib.uuid4()) if uuid is None else _check_uuid(uuid)
    trail = filters.check_reason(reason) + [[REASON_SOURCE, "", time.time_ns()]]
    store = master.config
    with store.lock:
        # the highest job id now, read under the config lock (as Ganeti does)
        rule = filters.make_rule(rule_uuid, master.queue.last_id, priority, predicates,
                                 action, trail)
        store.put_filter(rule)
    master.scheduler.filters_changed()
    return rule_uuid
