"""A small Ganeti RAPI v2 client over HTTPS for tools that talk to clusters only through their
remote API (move-instance): Basic authentication, the server certificate verified against a
CA file (a self-signed RAPI certificate is its own CA) or the system's CAs, Ganeti's error
bodies turned into :class:`RapiError`, jobs followed through ``/2/jobs/N/wait`` with their log
entries handed to a callback.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

HTTP_NOT_FOUND = 404
JOB_FINAL = ("success", "error", "canceled")
LogCallback = Callable[[list[Any]], None]


class RapiError(Exception):
    """A request the cluster refused or that did not reach it; ``code`` is the HTTP status
    (0 when there was no answer)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class JobError(Exception):
    """A job that ended without success; the message is the job's error."""


class Rapi:
    """One cluster's RAPI."""

    def __init__(self, host: str, port: int = 5080, user: str | None = None,
                 password: str | None = None, cafile: str | None = None,
                 timeout: float = 60) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.context = ssl.create_default_context(cafile=cafile)
        if cafile:
            # the CA file names the one certificate (or chain) trusted for this cluster; RAPI
            # certificates name the cluster, not necessarily the address used
            self.context.check_hostname = False
        self.auth = None
        if user is not None:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
            self.auth = f"Basic {token}"

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    def request(self, method: str, path: str, query: dict[str, Any] | None = None,
                body: Any = None) -> Any:
        """The decoded JSON answer of ``method path``."""
        url = f"https://{_bracketed(self.host)}:{self.port}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.auth:
            req.add_header("Authorization", self.auth)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout,
                                        context=self.context) as answer:
                text = answer.read().decode("utf-8")
        except urllib.error.HTTPError as err:
            raise RapiError(f"{self}: {method} {path}: {_error_text(err)}", err.code) from err
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise RapiError(f"{self}: {method} {path}: {reason}") from err
        return json.loads(text) if text.strip() else None

    def wait_job(self, job_id: int, on_log: LogCallback | None = None,
                 abort: Callable[[], None] | None = None) -> list[Any]:
        """Follow job ``job_id`` to its end; its opcode results. Every new log entry goes to
        ``on_log``; ``abort`` is called between polls (it raises to stop following)."""
        serial = 0
        previous: list[Any] | None = None
        while True:
            if abort is not None:
                abort()
            change = self.request("GET", f"/2/jobs/{int(job_id)}/wait",
                                  body={"fields": ["status"], "previous_job_info": previous,
                                        "previous_log_serial": serial})
            if change is None:
                continue
            for entry in change.get("log_entries") or []:
                serial = max(serial, int(entry[0]))
                if on_log is not None:
                    on_log(entry)
            previous = change.get("job_info")
            if previous and previous[0] in JOB_FINAL:
                break
            time.sleep(0.1)
        job = self.request("GET", f"/2/jobs/{int(job_id)}")
        if job["status"] != "success":
            raise JobError(f"job {job_id} on {self.host} {job['status']}: {_job_error(job)}")
        return list(job.get("opresult") or [])


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _error_text(err: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(err.read().decode("utf-8"))
        return f"{err.code} {body.get('message', '')}: {body.get('explain', '')}".strip(": ")
    except (ValueError, AttributeError, OSError):
        return f"{err.code} {err.reason}"


def _job_error(job: dict[str, Any]) -> str:
    for result in job.get("opresult") or []:
        if isinstance(result, dict) and result.get("message"):
            return str(result["message"])
        if isinstance(result, list) and len(result) >= 2 and isinstance(result[1], list):
            return str(result[1][0]) if result[1] else str(result[0])
    return "no error message"
