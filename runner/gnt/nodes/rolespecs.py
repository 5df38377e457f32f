"""The roles' contracts, checked in the coordinator: every play's vars against its role's
``meta/argument_specs.yml``, with Ansible's own validator, before the run starts.

Ansible checks the same specs itself when it loads a role (a ``validate_argument_spec`` task
at the head of the role), and does so in every run: it parses and deep-copies the spec
(~0.08 s for ours, which declare the shared instance and node records key by key) and runs the
check as a task of its own (~0.08 s). The coordinator checks each play in about a millisecond
with the specs parsed once, and more strictly (a var the role does not declare is an error,
not ignored); so the warm worker skips Ansible's repeat of it (:mod:`gnt.nodes.warm`), while
plain ansible-runner runs and anyone else's playbooks keep it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import yaml

from gnt.core import settings


class Play(Protocol):
    """What is checked of a play (:class:`gnt.nodes.executor.Play`): its role and, per host,
    the role's vars."""

    @property
    def role(self) -> str: ...  # noqa: D102

    @property
    def hosts(self) -> Mapping[str, Mapping[str, Any]]: ...  # noqa: D102


#: The spec file of a role, under its directory.
SPEC_FILE = Path("meta") / "argument_specs.yml"

_cache: dict[Path, tuple[tuple[int, int], Any]] = {}
_cache_lock = threading.Lock()
_validate_lock = threading.Lock()


def _validator(spec_file: Path) -> Any:
    """Ansible's validator for the ``main`` entry point of ``spec_file``, built once per
    version of the file (its size and time)."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    info = spec_file.stat()
    stamp = (info.st_size, info.st_mtime_ns)
    with _cache_lock:
        cached = _cache.get(spec_file)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    specs = yaml.load(spec_file.read_text(), Loader=loader)  # noqa: S506 - a safe loader
    validator = ArgumentSpecValidator(specs["argument_specs"]["main"].get("options", {}))
    with _cache_lock:
        _cache[spec_file] = (stamp, validator)
    return validator


def role_argument_errors(play: Play) -> list[str]:
    """Every way ``play``'s vars break its role's contract (``meta/argument_specs.yml``,
    checked with Ansible's own validator): unknown or missing vars, wrong types and choices,
    sub-options included. Empty when the play fits."""
    spec_file = settings.collection_root() / "roles" / play.role / SPEC_FILE
    try:
        validator = _validator(spec_file)
    except OSError:  # no such role, or no spec: one stat tells both
        return [f"role {play.role} has no {SPEC_FILE}"]
    errors = []
    for host, role_vars in sorted(play.hosts.items()):
        with _validate_lock:  # one validator serves every job's thread
            result = validator.validate(dict(role_vars))
        errors += [f"{play.role} on {host}: {msg}" for msg in result.error_messages]
    return errors


def check_plays(plays: Iterable[Play]) -> None:
    """Raise :class:`ValueError` naming every play whose vars do not fit its role."""
    errors = [error for play in plays for error in role_argument_errors(play)]
    if errors:
        raise ValueError("internal: a play's vars break its role's argument spec: "
                         + "; ".join(errors))
