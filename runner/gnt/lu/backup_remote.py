"""OP_BACKUP_EXPORT in remote mode: the source side of move-instance.

As Ganeti's: ``target_node`` is the list of per-disk destinations the destination cluster
answered (``[host, port, magic, hmac, salt]``, signed with the cluster domain secret),
``x509_key_name`` the signed name of the key prepare-export made on the primary node,
``destination_x509_ca`` the destination's signed certificate. Each is checked against this
cluster's domain secret before anything happens (Ganeti's messages, ECODE_INVAL). Then, in one
Ansible run on the primary node: shut the instance down (unless ``shutdown`` is false: then
its file disks are frozen by a snapshot, its logical volumes - plain, drbd's data volume - by
LVM snapshots, as a local export's), stream every disk in parallel with role
``instance_remote_send`` (TLS with the prepared key, only the destination's certificate
trusted, the disk's magic first; compression as given), end the snapshot or restart.

The result is Ganeti's ``[True, [disk ok, ...]]``; a disk that failed fails the job
("Export failed, errors in disk export: disk(s) N") and the instance is neither removed nor
left stopped. With ``remove_instance`` the instance is removed once every disk arrived. The
prepared key is removed from the node at the end, as Ganeti's export does.
"""

from __future__ import annotations

from typing import Any

from gnt.core import domainsecret, rie, settings
from gnt.core.errors import ECODE_INVAL, OpExecError, OpPrereqError
from gnt.core.locklevels import LEVEL_NODE
from gnt.lu.backup_export import LUBackupExport
from gnt.lu.base import register
from gnt.lu.instance_remote_import import certificate_problem
from gnt.nodes import rpc
from gnt.nodes.executor import Play
from gnt.opcodes.backup import EXPORT_MODE_REMOTE
from gnt.opcodes.params import COMPRESSIONS

SEND_ROLE = "instance_remote_send"
RIE_CONNECT_TIMEOUT = 180


def check_destination(secret: str, op: dict[str, Any], disk_count: int,
                      instance_name: str) -> tuple[str, str, list[tuple[str, int, str]]]:
    """(key name, destination certificate PEM, [(host, port, magic)] per disk) of a remote
    export's opcode; OpPrereqError (ECODE_INVAL) naming the failed check."""
    targets = op["target_node"]
    if not isinstance(targets, list):
        raise OpPrereqError("A remote export needs the destination of every disk as"
                            " target_node (a list), not a node name", ECODE_INVAL)
    if len(targets) != disk_count:
        raise OpPrereqError(f"Received destination information for {len(targets)} disks, but"
                            f" instance {instance_name} has {disk_count} disks", ECODE_INVAL)
    if not op["x509_key_name"]:
        raise OpPrereqError("Missing X509 key name for encryption", ECODE_INVAL)
    if not op["destination_x509_ca"]:
        raise OpPrereqError("Missing destination X509 CA", ECODE_INVAL)
    value = op["x509_key_name"]
    if not isinstance(value, list) or len(value) != 3:
        raise OpPrereqError(f"Invalid data for X509 key name: {value!r:.80}", ECODE_INVAL)
    try:
        key_name = rie.check_key_name(secret, value)
    except rie.TrustError as err:
        raise OpPrereqError("HMAC for X509 key name is wrong", ECODE_INVAL) from err
    try:
        cert, _salt = rie.load_signed_certificate(op["destination_x509_ca"], secret)
    except rie.TrustError as err:
        raise OpPrereqError(f"Unable to load destination X509 CA ({err})",
                            ECODE_INVAL) from err
    problem = certificate_problem(cert)
    if problem:
        raise OpPrereqError(f"Invalid destination X509 CA ({problem})", ECODE_INVAL)
    disks = []
    for index, info in enumerate(targets):
        try:
            disks.append(rie.check_disk_info(secret, index, info))
        except rie.TrustError as err:
            raise OpPrereqError(f"Target info for disk {index}: {err}", ECODE_INVAL) from err
    return key_name, cert, disks


@register
class LUBackupExportAnyMode(LUBackupExport):
    """OP_BACKUP_EXPORT: local as :class:`LUBackupExport`, ``remote`` to another cluster."""

    def check_arguments(self) -> None:
        self.remote = self.op["mode"] == EXPORT_MODE_REMOTE
        if not self.remote:
            if not isinstance(self.op["target_node"], str):
                raise OpPrereqError("A local export needs a node name as target_node",
                                    ECODE_INVAL)
            super().check_arguments()
            return
        if self.op["compress"] not in COMPRESSIONS:
            raise OpPrereqError(f"Unknown compression {self.op['compress']!r}", ECODE_INVAL)
        if self.op["remove_instance"] and not self.op["shutdown"]:
            raise OpPrereqError("Cannot remove the instance without shutting it down first"
                                " (--remove-instance needs the shutdown: drop --noshutdown)",
                                ECODE_INVAL)
        if self.op["shutdown_timeout"] < 0:
            raise OpPrereqError(f"Invalid shutdown timeout {self.op['shutdown_timeout']}:"
                                " must not be negative", ECODE_INVAL)

    def expand_names(self) -> None:
        if not self.remote:
            super().expand_names()
            return
        super(LUBackupExport, self).expand_names()      # the instance; no target node

    def declare_locks(self) -> dict[str, list[str] | str]:
        if not self.remote:
            return super().declare_locks()
        locks = super(LUBackupExport, self).declare_locks()
        locks[LEVEL_NODE] = list(locks[LEVEL_NODE])
        return locks

    def check_prereq(self) -> None:
        if not self.remote:
            super().check_prereq()
            return
        secret = domainsecret.local_secret()
        # the instance's own checks (template, node online, OS) as a local export's
        self.target = self.cfg.get("nodes", self.instance_node_uuid())
        super().check_prereq()
        self.key_name, self.dest_ca, self.dest_disks = check_destination(
            secret, self.op, len(self.instance["disks"]), self.name)

    def instance_node_uuid(self) -> str:
        inst = self.cfg.lookup("instances", self.op["instance_name"])
        return str(inst["primary_node"])

    # -- exec --------------------------------------------------------------------------------
    def exec(self) -> Any:
        if not self.remote:
            return super().exec()
        name = self.name
        self.tmp_dir = ""          # the local export's play is built, then replaced
        try:
            disk_ok = self._copy_disks()
        finally:
            self._forget_key()
        failed = [str(index) for index, ok in enumerate(disk_ok) if not ok]
        if failed:
            if self.op["remove_instance"] and self.stop_for_copy:
                self._restart_after_failure()
            raise OpExecError(f"Export failed, errors in disk export: disk(s)"
                              f" {', '.join(failed)}; instance {name} was kept")
        self.log(f"Remote export of {name} complete ({len(disk_ok)} disk(s) sent)")
        if self.op["remove_instance"]:
            self._remove_instance()
        return [True, disk_ok]

    def _plays(self) -> list[Play]:
        if not self.remote:
            return super()._plays()
        plays = super()._plays()
        key_dir = str(settings.paths().crypto_dir / self.key_name)
        remote = {"key_dir": key_dir, "peer_ca": self.dest_ca,
                  "compression": self.op["compress"], "use_os": True,
                  "timeout": RIE_CONNECT_TIMEOUT,
                  "disks": [{"index": index, "host": host, "port": port, "magic": magic}
                            for index, (host, port, magic) in enumerate(self.dest_disks)]}
        for index, (host, port, _magic) in enumerate(self.dest_disks):
            self.log(f"Sending disk {index} to {host}:{port}")
        send = self._on_primary(SEND_ROLE, "send the disks", gnt_remote=remote)
        if self.volumes:        # plain/drbd: the LVs (or their snapshots), as a local export
            self._read_from_volumes(send.hosts[self.node["name"]]["gnt_instance"])
        return [send if play.role == "instance_export" else play for play in plays]

    def _discard(self) -> None:
        if not self.remote:
            super()._discard()

    def _restart_after_failure(self) -> None:
        """The export stopped the instance to remove it afterwards, and failed: start it
        again, the source stays as it was."""
        self.log(f"Starting {self.name} again (the export failed)")
        try:
            self.play("instance_start", f"start instance {self.name} again",
                      **self.host_vars())
        except OpExecError as err:
            self.log(f"WARNING: {err}; run 'gnt-instance startup {self.name}'")

    def _forget_key(self) -> None:
        try:
            rpc.x509_remove(self.cfg, self.node, self.key_name)
        except (rpc.NodeDown, ValueError) as err:
            self.log(f"WARNING: can't remove X509 key and certificate {self.key_name} on"
                     f" {self.node['name']}: {err} (it expires within a day)")
