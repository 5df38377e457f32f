"""The coordinator's error types. Each carries a Ganeti-style error kind and a CLI exit code."""

from __future__ import annotations

# Ganeti error kinds (ECODE_*), reported with prerequisite failures.
ECODE_RESOLVER = "resolver_error"
ECODE_NORES = "insufficient_resources"
ECODE_TEMP_NORES = "temp_insufficient_resources"
ECODE_INVAL = "wrong_input"
ECODE_STATE = "wrong_state"
ECODE_NOENT = "unknown_entity"
ECODE_EXISTS = "already_exists"
ECODE_NOTUNIQUE = "resource_not_unique"
ECODE_FAULT = "internal_error"
ECODE_ENVIRON = "environment_error"


class GntError(Exception):
    """Base of every error the coordinator raises on purpose."""

    exit_code = 1

    def to_dict(self) -> dict:
        """Serialise for the socket protocol and job results."""
        return {"type": type(self).__name__, "message": str(self), "args": list(self.args)}


class ConfigError(GntError):
    """The configuration file is missing, corrupt or invalid."""


class OpPrereqError(GntError):
    """An opcode's parameters or the cluster state do not allow the operation.

    ``args`` is ``(message, ecode)`` as in Ganeti.
    """

    def __init__(self, message: str, ecode: str = ECODE_INVAL) -> None:
        super().__init__(message, ecode)

    @property
    def message(self) -> str:
        return str(self.args[0])

    @property
    def ecode(self) -> str:
        return str(self.args[1])

    def __str__(self) -> str:
        return self.message


class OpExecError(GntError):
    """The operation failed while being carried out (on the nodes)."""


class JobQueueError(GntError):
    """A job queue operation failed."""


class JobQueueDrainError(JobQueueError):
    """Submissions are refused while the queue is drained."""


class JobQueueFull(JobQueueError):
    """Too many jobs in the queue."""


class JobLost(GntError):
    """A job id that the queue does not know."""


class LockError(GntError):
    """A lock could not be taken (e.g. the job was canceled while waiting)."""


class ProtocolError(GntError):
    """The master daemon could not be reached or answered nonsense."""


class MasterNotRunning(ProtocolError):
    """No master daemon answers on this node's socket."""


ERRORS_BY_NAME: dict[str, type[GntError]] = {
    cls.__name__: cls
    for cls in (
        GntError, ConfigError, OpPrereqError, OpExecError, JobQueueError, JobQueueDrainError,
        JobQueueFull, JobLost, LockError, ProtocolError, MasterNotRunning,
    )
}


def error_from_dict(data: dict) -> GntError:
    """Rebuild an error serialised by :meth:`GntError.to_dict`."""
    cls = ERRORS_BY_NAME.get(data.get("type", ""), GntError)
    args = data.get("args") or [data.get("message", "unknown error")]
    try:
        return cls(*args)
    except TypeError:
        return cls(data.get("message", "unknown error"))
