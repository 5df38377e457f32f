"""Every filesystem path and tunable default of the coordinator, in one place.

All paths hang off one root prefix, ``GNT_ROOT`` (default ``/``), so several clusters and test
runs coexist on one machine. Nothing else in the coordinator hard-codes a path: call
:func:`paths` (re-read from the environment on each call, cheap) and use its attributes.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

DEFAULT_MAX_RUNNING_JOBS = 20
DEFAULT_SHUTDOWN_TIMEOUT = 120
MASTER_SOCKET_NAME = "master.sock"
DEFAULT_LIBVIRT_URI = "qemu:///system"
RAPI_PORT = 5080


class Paths(NamedTuple):
    """The paths of one cluster root (a named tuple, not a dataclass: every ``gnt-*``
    command imports this module, and ``dataclasses`` costs it 10 ms)."""

    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "var/lib/gnt"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "config.data"

    @property
    def queue_dir(self) -> Path:
        return self.data_dir / "queue"

    @property
    def archive_dir(self) -> Path:
        return self.queue_dir / "archive"

    @property
    def ansible_dir(self) -> Path:
        """Private Ansible home: generated inventories, control sockets, collection link."""
        return self.data_dir / "ansible"

    @property
    def ansible_remote_tmp(self) -> Path:
        """Ansible's temp dir on every node (the same path under each node's GNT_ROOT); Ansible
        creates it 0700. Never a shared path such as /tmp."""
        return self.ansible_dir / "remote-tmp"

    @property
    def collections_dir(self) -> Path:
        """A collections path whose ``ansible_collections/gnt/cluster`` links to this checkout."""
        return self.ansible_dir / "collections"

    @property
    def run_dir(self) -> Path:
        return self.root / "var/run/gnt"

    @property
    def crypto_dir(self) -> Path:
        """Per-move X509 keys and certificates of this node (``x509-*/key``, ``cert``), as
        Ganeti's crypto directory."""
        return self.run_dir / "crypto"

    @property
    def master_socket(self) -> Path:
        return self.run_dir / MASTER_SOCKET_NAME

    @property
    def master_pidfile(self) -> Path:
        return self.run_dir / "gnt-masterd.pid"

    @property
    def rapi_cert(self) -> Path:
        """The remote API's certificate and key (one PEM file, 0600), as Ganeti's rapi.pem."""
        return self.data_dir / "rapi.pem"

    @property
    def cluster_domain_secret(self) -> Path:
        """The secret clusters that move instances between them share (0600), as Ganeti's
        cluster-domain-secret."""
        return self.data_dir / "cluster-domain-secret"

    @property
    def rapi_users(self) -> Path:
        """The remote API's users file (``user password [read|write|read,write]``)."""
        return self.data_dir / "rapi" / "users"

    @property
    def rapi_pidfile(self) -> Path:
        return self.run_dir / "gnt-rapi.pid"

    @property
    def log_dir(self) -> Path:
        return self.root / "var/log/gnt"

    @property
    def console_log_dir(self) -> Path:
        return self.log_dir / "console"

    @property
    def file_storage_dir(self) -> Path:
        return self.root / "srv/gnt/file-storage"

    @property
    def shared_file_storage_dir(self) -> Path:
        return self.root / "srv/gnt/shared-file-storage"

    @property
    def export_dir(self) -> Path:
        return self.root / "srv/gnt/export"

    @property
    def os_dir(self) -> Path:
        """Where node preparation installs the bundled OS definitions."""
        return self.root / "srv/gnt/os"

    @property
    def ext_dir(self) -> Path:
        """Where node preparation installs the bundled ExtStorage providers."""
        return self.root / "srv/gnt/extstorage"

    @property
    def ext_search_path(self) -> list[str]:
        """ExtStorage provider search path: ours first, then Ganeti's default directory."""
        return [str(self.ext_dir), "/srv/ganeti/extstorage", "/usr/share/ganeti/extstorage"]

    @property
    def os_search_path(self) -> list[str]:
        """OS definition search path: ours first, then where Debian's ganeti OS packages go."""
        return [
            str(self.os_dir),
            "/srv/ganeti/os",
            "/usr/share/ganeti/os",
            "/usr/local/lib/ganeti/os",
            "/usr/lib/ganeti/os",
        ]


def root() -> Path:
    """The cluster root prefix from ``GNT_ROOT`` (default ``/``)."""
    return Path(os.environ.get("GNT_ROOT", "/") or "/").resolve()


def paths() -> Paths:
    """The paths for the current ``GNT_ROOT``."""
    return _paths_for(root())


@lru_cache(maxsize=8)
def _paths_for(prefix: Path) -> Paths:
    return Paths(prefix)


def collection_root() -> Path:
    """The directory holding ``galaxy.yml`` of the gnt.cluster collection.

    ``GNT_COLLECTION_ROOT`` overrides; otherwise the checkout this package was installed from
    (this module lives at ``<collection>/runner/gnt/core``).
    """
    env = os.environ.get("GNT_COLLECTION_ROOT")
    if env:
        return Path(env).resolve()
    candidate = Path(__file__).resolve().parents[3]
    if (candidate / "galaxy.yml").is_file():
        return candidate
    fallback = Path("/usr/share/ansible/collections/ansible_collections/gnt/cluster")
    return fallback.resolve()


def rapi_port() -> int | None:
    """The port the master daemon starts gnt-rapi on (``GNT_RAPI_PORT``, default
    :data:`RAPI_PORT`); None when set to ``off`` or 0 (no remote API)."""
    value = os.environ.get("GNT_RAPI_PORT", "").strip().lower()
    if not value:
        return RAPI_PORT
    if value in ("off", "0", "no"):
        return None
    port = int(value)
    if not 0 < port < 65536:
        raise ValueError(f"GNT_RAPI_PORT={value!r}: not a TCP port")
    return port


def max_running_jobs() -> int:
    """How many jobs the master daemon runs at once (``GNT_MAX_RUNNING_JOBS``, default 20)."""
    return int(os.environ.get("GNT_MAX_RUNNING_JOBS", DEFAULT_MAX_RUNNING_JOBS))


#: How the executor runs ``ansible-playbook``: forked from a warm worker that has Ansible
#: imported (``warm``, the default) or as a fresh process through ansible-runner (``runner``).
EXECUTOR_MODES = ("warm", "runner")


def executor_mode() -> str:
    """The executor's mode, from ``GNT_ANSIBLE_EXECUTOR`` (one of :data:`EXECUTOR_MODES`)."""
    mode = os.environ.get("GNT_ANSIBLE_EXECUTOR", "warm") or "warm"
    if mode not in EXECUTOR_MODES:
        raise ValueError(f"GNT_ANSIBLE_EXECUTOR={mode!r}: expected one of"
                         f" {', '.join(EXECUTOR_MODES)}")
    return mode


def ansible_run_timeout() -> float:
    """Seconds one Ansible run may take before it is stopped (``GNT_ANSIBLE_RUN_TIMEOUT``,
    default 3600)."""
    return float(os.environ.get("GNT_ANSIBLE_RUN_TIMEOUT", "3600"))


def module_interpreter() -> str:
    """How modules run on the nodes: ``warm`` (forks of a warm module interpreter,
    :mod:`gnt.nodes.modexec`, the default) or ``fresh`` (a new interpreter per task, as
    Ansible does), from ``GNT_MODULE_INTERPRETER``."""
    mode = os.environ.get("GNT_MODULE_INTERPRETER", "warm") or "warm"
    if mode not in ("warm", "fresh"):
        raise ValueError(f"GNT_MODULE_INTERPRETER={mode!r}: expected warm or fresh")
    return mode


def payload_cache_dir() -> Path | None:
    """Where module payloads built by the warm worker are kept across workers and clusters of
    this machine (one directory per code stamp under it): ``GNT_PAYLOAD_CACHE``, default
    ``/var/cache/gnt/ansiballz``; empty: each worker keeps its own for its lifetime."""
    value = os.environ.get("GNT_PAYLOAD_CACHE", "/var/cache/gnt/ansiballz")
    return Path(value) if value else None
