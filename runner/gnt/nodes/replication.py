"""Config replication: after every config write the master pushes ``config.data`` (and the
secrets a new master needs: ``rapi.pem``, ``cluster-domain-secret``) to every online master
candidate and the ssconf files and the cluster's known_hosts file
(:mod:`gnt.nodes.knownhosts`) to every online node, before the job goes on.

One SSH command per node and write (all nodes at once, over warm control masters): a tar of the
files is unpacked into a temp dir beside the data dir and each file renamed into place, so a
reader never sees half a file. A node that cannot be reached is logged and remembered
(:attr:`Replicator.failures`); ``gnt-cluster verify`` reports it and ``gnt-cluster redist-conf``
pushes again. Non-candidates lose any ``config.data`` they have (e.g. after a demotion).
"""

from __future__ import annotations

import base64
import functools
import io
import logging
import shlex
import tarfile
import threading
from typing import Any

from gnt.core import settings, ssconf
from gnt.nodes import knownhosts, relay, ssh
from gnt.nodes.nodevars import ssh_target

LOG = logging.getLogger("gnt.nodes.replication")
CONFIG_NAME = "config.data"
CONFIG_MODE = 0o600     # as the master's own copy (config/store.py)
# Secrets a master candidate keeps besides config.data, so that it can take over as master:
# the remote API's key and certificate and the cluster domain secret (0600, as the master's).
SECRET_MODE = 0o600
#: Seconds one node's push may take.
PUSH_TIMEOUT = 30.0


def candidate_secrets() -> dict[str, bytes]:
    """File name -> content of the master's secrets that exist (read at each push, so a
    renew-crypto reaches candidates added later)."""
    paths = settings.paths()
    found = {}
    for path in (paths.rapi_cert, paths.cluster_domain_secret):
        try:
            found[path.name] = path.read_bytes()
        except FileNotFoundError:
            continue
    return found


def _secret_names() -> tuple[str, ...]:
    paths = settings.paths()
    return (paths.rapi_cert.name, paths.cluster_domain_secret.name)


# The key under which the known_hosts file's content is compared with what a node was sent
# (beside the ssconf keys, which never start with "#").
_KNOWN_HOSTS_KEY = "#" + ssh.KNOWN_HOSTS_NAME


def file_mode(name: str) -> int:
    """Mode of a pushed file: as the master's own copy."""
    if name == CONFIG_NAME:
        return CONFIG_MODE
    if name in _secret_names():
        return SECRET_MODE
    if name == ssh.KNOWN_HOSTS_NAME:
        return knownhosts.FILE_MODE
    return ssconf.FILE_MODE


def node_files(shared: dict[str, str]) -> dict[str, bytes]:
    """File name -> content of what every node gets: the ssconf files and known_hosts."""
    return {(ssh.KNOWN_HOSTS_NAME if key == _KNOWN_HOSTS_KEY else ssconf.PREFIX + key):
            value.encode() for key, value in shared.items()}


def archive(files: dict[str, bytes]) -> bytes:
    """The tar piped to :func:`unpack_command` on a node, each file with the mode of the
    master's own copy (:func:`file_mode`): config.data 0600, known_hosts 0644, ssconf files
    :data:`gnt.core.ssconf.FILE_MODE`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, blob in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            info.mode = file_mode(name)
            tar.addfile(info, io.BytesIO(blob))
    return buf.getvalue()


def unpack_command(data_dir: str, remove_config: bool) -> str:
    """Shell command unpacking a tar from stdin into ``data_dir`` file by file (renames); the
    directories it makes are 0700, the files keep the archive's modes. ``remove_config``
    (a node that is no candidate) also deletes its config.data and candidate secrets.

    One ``mv`` renames all the files: a master candidate gets about 40 files, and a process
    per file cost 4-5 s on a TCG guest node (0.1 s each to start there)."""
    d = shlex.quote(data_dir)
    removed = removed_names(remove_config)
    removal = (" && rm -f " + " ".join(f"{d}/{name}" for name in removed)) if removed else ""
    return (f"umask 077 && mkdir -p {d} && t=$(mktemp -d {d}/.push.XXXXXX) && if tar -x -C \"$t\"; then"
            f" set --; for f in \"$t\"/* \"$t\"/.[!.]*; do if [ -e \"$f\" ]; then set -- \"$@\" \"$f\";"
            f" fi; done; if [ $# -gt 0 ]; then mv -f \"$@\" {d}/ || exit 1; fi; rmdir \"$t\";"
            f" else rm -rf \"$t\"; exit 1; fi{removal}")


def removed_names(remove_config: bool) -> tuple[str, ...]:
    """The files a node that is no master candidate loses: config.data and the secrets."""
    return (*_secret_names(), CONFIG_NAME) if remove_config else ()


def unpack_script(data_dir: str, remove_config: bool, files: dict[str, bytes]) -> bytes:
    """What :func:`unpack_command` does with the archive of ``files``, as Python for the
    node's warm interpreter (:func:`gnt.nodes.unpack.put_files`, which also leaves the files
    that did not change alone): a push relayed over the control master starts no SSH
    session, shell, ``tar`` or ``mv`` on the node (a slow node starts each in 0.1 s)."""
    encoded = {name: (file_mode(name), base64.b64encode(blob).decode("ascii"))
               for name, blob in sorted(files.items())}
    return ("import base64\nfrom gnt.nodes.unpack import put_files\n"
            f"put_files({data_dir!r}, {{name: (mode, base64.b64decode(text)) for name, (mode,"
            f" text) in {encoded!r}.items()}}, {removed_names(remove_config)!r})\n").encode()


def _push(data_dir: str, target: ssh.Target, files: dict[str, bytes], remove_config: bool
          ) -> ssh.Result:
    """Push ``files`` to one node: relayed to its warm interpreter, else as a tar over SSH
    (made only then)."""
    return relay.run(target, unpack_command(data_dir, remove_config),
                     unpack_script(data_dir, remove_config, files), PUSH_TIMEOUT,
                     stdin=functools.partial(archive, files))


class Replicator:
    """Called by the config store after each write (see ``ConfigStore.on_commit``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pushed: dict[str, dict[str, str]] = {}   # node name -> ssconf values and
        #                                                known_hosts content it has
        self.failures: dict[str, str] = {}             # node name -> last push error

    def __call__(self, data: dict[str, Any], blob: bytes, force: bool = False) -> list[str]:
        return self.distribute(data, blob, force)

    def distribute(self, data: dict[str, Any], blob: bytes, force: bool = False) -> list[str]:
        """Push to every online node; returns one warning per node that failed."""
        from gnt.config.store import ConfigStore  # typing-only cycle avoided at import time

        store = ConfigStore(settings.paths().config_file, data)
        vals = ssconf.values(data)
        shared = {**vals, _KNOWN_HOSTS_KEY: knownhosts.content(data)}
        master_uuid = data["cluster"]["master_node"]
        with self._lock:
            ssconf.write_local(vals)
            knownhosts.write_local(data)
            jobs: dict[str, tuple[ssh.Target, dict[str, bytes], bool]] = {}
            secrets: dict[str, bytes] | None = None     # read once per push, when needed
            for node in data["nodes"].values():
                if node["uuid"] == master_uuid:
                    continue
                if node["offline"]:
                    # Not contacted; what it has is unknown once it is back: push it all then.
                    self._pushed.pop(node["name"], None)
                    continue
                candidate = node["master_candidate"]
                last = self._pushed.get(node["name"])
                changed = last is None or any(
                    last.get(k) != v for k, v in shared.items() if k not in ssconf.VOLATILE)
                if not (candidate or changed or force):
                    continue
                files = node_files(shared)
                if candidate:
                    secrets = secrets if secrets is not None else candidate_secrets()
                    files.update(secrets)
                    files[CONFIG_NAME] = blob
                jobs[node["name"]] = (ssh_target(store, node), files, not candidate)
            data_dir = str(settings.paths().data_dir)
            results = ssh.map_parallel(jobs, lambda name: _push(data_dir, *jobs[name]))
            warnings = []
            for name, result in sorted(results.items()):
                if result.ok:
                    self._pushed[name] = dict(shared)
                    self.failures.pop(name, None)
                else:
                    self._pushed.pop(name, None)
                    self.failures[name] = result.reason()
                    warnings.append(f"Could not update the configuration on node {name}:"
                                    f" {result.reason()}")
                    LOG.warning(warnings[-1])
            known = {node["name"] for node in data["nodes"].values()}
            for name in list(self._pushed):
                if name not in known:
                    del self._pushed[name]
            return warnings
