"""The master daemon's local protocol: one JSON object per line over a UNIX socket.

Request ``{"method": NAME, "args": {...}}`` (at most :data:`MAX_MESSAGE` bytes; each argument
of the type the method declares, e.g. a JSON boolean where a boolean is expected); response ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": {"type", "message", "args"}}``.

The daemon closes a connection idle for 5 minutes (the client reconnects), answers
connections beyond its cap and malformed or oversize requests with one ``ProtocolError``
and closes them (see :mod:`gnt.daemon.server`).

Methods (all answered by :mod:`gnt.daemon.handlers`):

- ``submit_job(ops, priority=0)`` -> job id; ``submit_jobs(jobs, priority=0)`` -> list of
  ``[ok, job_id_or_message]``
- ``wait_for_job_change(job_id, prev_status, prev_log_serial, timeout)`` ->
  ``{"status", "log": [[serial, [sec, usec], type, message], ...], "changed"}``
- ``query_jobs(ids, fields)`` -> list of rows (None for unknown ids); ``ids`` empty = all current
- ``cancel_job(job_id)`` -> ``[ok, message]``; ``archive_job(job_id)`` -> bool;
  ``autoarchive_jobs(age, timeout)`` -> ``[archived, left]``
- ``set_drain_flag(drained)``; ``query_queue_info()`` -> ``{"drained": bool}``
- ``query(what, fields, names, live=True)`` -> ``{"fields": [{"name", "title", "kind"}],
  "data": [[value, ...], ...]}``; ``what`` in instance, node, job, os?; unknown names are a
  prerequisite error naming them
- ``query_fields(what)`` -> list of ``{"name", "title", "kind", "doc"}``
- ``cluster_info()`` -> dict; ``get_master()`` -> master node name
- ``node_drbd(node)`` -> rows ``[node, minor, instance, disk index, role, peer]`` of the DRBD
  minors configured on a node
- ``ping()`` -> ``"pong"``
"""

from __future__ import annotations

import json
from typing import Any

ENCODING = "utf-8"
# The longest request line the daemon reads; a longer one is refused with one error.
MAX_MESSAGE = 16 * 1024 * 1024


def encode(obj: Any) -> bytes:
    """One protocol message (a JSON line)."""
    return json.dumps(obj, separators=(",", ":")).encode(ENCODING) + b"\n"


def decode(line: bytes) -> Any:
    return json.loads(line.decode(ENCODING))
