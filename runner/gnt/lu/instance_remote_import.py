"""OP_INSTANCE_CREATE in remote-import mode: the destination side of move-instance.

As Ganeti's: the arguments carry what the source cluster's prepare-export answered. The
handshake must verify against this cluster's domain secret, the source's X509 CA must carry a
valid signature and be in its validity period, the source instance's name must be given; each
refusal is ECODE_INVAL with Ganeti's message. Then:

1. the primary node makes a key and certificate for this move (x509-create node call);
2. one Ansible run creates the instance's disks (plain: its LVs; drbd: the volumes on both
   nodes, the primary's device Primary, the initial resync waited for unless
   ``wait_for_sync`` is false, so that what arrives is replicated as it is written) and starts
   one receiver per disk
   (role ``instance_remote_receive``, ``listening``: TLS with this move's key, only the source's
   certificate trusted, the disk's magic checked before a byte is written);
3. the job log gets a ``remote-import`` entry: per disk ``[host, port, magic, hmac, salt]``
   signed with the domain secret, and this move's certificate, signed too - what
   move-instance hands to the source cluster's remote export;
4. the node locks are given back (as Ganeti's: the instance's lock is enough from here on,
   and a move within one cluster - Ganeti's QA does one - needs them for the export);
   a second run waits for the receivers (and runs the OS rename script under a new name);
5. the key is removed; the instance is started if asked.

A failure at any step stops the receivers and removes the half-made instance (disks and
config): the job fails and nothing of the import stays.
"""

from __future__ import annotations

import datetime
import secrets
from hashlib import sha1
from typing import Any

from gnt.core import domainsecret, rie, settings
from gnt.core.errors import ECODE_INVAL, OpExecError, OpPrereqError
from gnt.core.jobstate import ELOG_REMOTE_IMPORT
from gnt.core.locklevels import LEVEL_NODE, LEVEL_NODE_RES
from gnt.lu.base import register
from gnt.lu.instance_import import LUInstanceCreateOrImport
from gnt.nodes import rpc
from gnt.nodes.executor import Play, RunResult
from gnt.nodes.nodevars import instance_spec, node_access, node_vars

REMOTE_IMPORT = "remote-import"
RIE_CONNECT_TIMEOUT = 180      # seconds the receivers wait for the source (Ganeti's)
RECEIVE_ROLE = "instance_remote_receive"
PROGRESS_INTERVAL = 30         # seconds between progress lines while disks stream


def disk_magic(base: str, instance_name: str, index: int) -> str:
    """The magic value of disk ``index`` (Ganeti's: SHA1 over version, base, name, index)."""
    digest = sha1()
    for value in (str(rie.RIE_VERSION), base, instance_name, str(index)):
        digest.update(value.encode("utf-8"))
    return digest.hexdigest()


def check_source(secret: str, op: dict[str, Any]) -> str:
    """Ganeti's checks of a remote import's source information; returns the source's
    certificate PEM (OpPrereqError, ECODE_INVAL, naming the failed check)."""
    if not op["source_handshake"]:
        raise OpPrereqError("Missing source handshake", ECODE_INVAL)
    error = rie.check_handshake(secret, op["source_handshake"])
    if error:
        raise OpPrereqError(f"Invalid handshake: {error}", ECODE_INVAL)
    if not op["source_x509_ca"]:
        raise OpPrereqError("Missing source X509 CA", ECODE_INVAL)
    try:
        cert, _salt = rie.load_signed_certificate(op["source_x509_ca"], secret)
    except rie.TrustError as err:
        raise OpPrereqError(f"Unable to load source X509 CA ({err})", ECODE_INVAL) from err
    problem = certificate_problem(cert)
    if problem:
        raise OpPrereqError(f"Invalid source X509 CA ({problem})", ECODE_INVAL)
    if not op["source_instance_name"]:
        raise OpPrereqError("Missing source instance name", ECODE_INVAL)
    return cert


def certificate_problem(pem: str, now: datetime.datetime | None = None) -> str | None:
    """Why the certificate cannot be used now (not yet or no longer valid), else None."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pem.encode())
    moment = now or datetime.datetime.now(datetime.UTC)
    if moment < cert.not_valid_before_utc:
        return f"the certificate is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S} UTC"
    if moment > cert.not_valid_after_utc:
        return f"the certificate expired at {cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC"
    return None


@register
class LUInstanceCreateAnyMode(LUInstanceCreateOrImport):
    """OP_INSTANCE_CREATE: create and import as :class:`LUInstanceCreateOrImport`, plus
    ``remote-import`` (from another cluster, move-instance)."""

    def check_arguments(self) -> None:
        self.key_name: str | None = None
        if self.op["mode"] != REMOTE_IMPORT:
            super().check_arguments()
            return
        self.op = dict(self.op)             # changed below; the job keeps what was asked
        self.secret = domainsecret.local_secret()
        self.source_ca = check_source(self.secret, self.op)
        self.op["no_install"] = True        # the data comes from the source cluster
        super().check_arguments()

    # -- exec --------------------------------------------------------------------------------
    def exec(self) -> Any:
        if self.op["mode"] != REMOTE_IMPORT:
            return super().exec()
        name = self.op["instance_name"]
        start = self.op["start"]
        self.op["start"] = False            # only once the data is there
        assert self.pnode is not None
        pnode = self.cfg.get("nodes", self.pnode["uuid"])
        self.log("* preparing remote import...")
        try:
            key_name, cert = rpc.x509_create(self.cfg, pnode, rie.RIE_CERT_VALIDITY)
        except rpc.NodeDown as err:
            raise OpExecError(f"Can't create X509 key and certificate on {pnode['name']}:"
                              f" {err}") from err
        self.key_name = key_name
        self.signed_cert = rie.sign_certificate(cert, self.secret, rie.new_salt())
        self.magics = [disk_magic(secrets.token_hex(6), name, index)
                       for index in range(len(self.disks))]
        self.listening: list[dict[str, Any]] | None = None
        try:
            result = super().exec()         # config entry, disks, receivers listening
            instance = self.cfg.lookup("instances", name)
            # As Ganeti's: the disks exist, so the wait for the data holds the instance's
            # lock only; a move within one cluster needs its nodes for the export.
            self.release_locks(LEVEL_NODE)
            self.release_locks(LEVEL_NODE_RES)
            host = {"gnt_instance": instance_spec(self.cfg, instance, self.start_memory),
                    "gnt_node": node_vars(self.cfg, pnode)}
            try:
                self._announce(pnode)
                self._receive(pnode, host)
            except BaseException:
                self._stop_receivers(pnode, host)
                self._undo_create(instance, pnode, host)
                raise
        finally:
            self._forget_key(pnode)
        if start:
            self.log("* starting instance...")
            self.run_plays([Play("instance_start", {pnode["name"]: host}, title="start")],
                           f"start instance {name} (it was imported; run 'gnt-instance"
                           f" startup {name}')")
            self.cfg.modify("instances", instance["uuid"],
                            lambda obj: obj.update(admin_state="up", disks_active=True))
        return result

    def _remote(self, pnode: dict[str, Any], state: str) -> dict[str, Any]:
        """The ``gnt_remote`` vars of the receive role."""
        assert self.key_name is not None
        return {"state": state, "key_dir": str(settings.paths().crypto_dir / self.key_name),
                "peer_ca": self.source_ca, "magics": self.magics,
                "bind_address": pnode["primary_ip"], "compression": self.op["compress"],
                "use_os": True, "old_name": self.op["source_instance_name"],
                "timeout": RIE_CONNECT_TIMEOUT + self.op["source_shutdown_timeout"]}

    def node_plays(self, node: dict[str, Any], host: dict[str, Any]) -> list[Play]:
        plays = super().node_plays(node, host)
        if self.op["mode"] != REMOTE_IMPORT or not self.disks:
            return plays
        listen = {**host, "gnt_remote": self._remote(node, "listening")}
        return [*plays, Play(RECEIVE_ROLE, {node["name"]: listen}, title="listen for the disks")]

    def report_node_plays(self, node: dict[str, Any], result: RunResult) -> None:
        super().report_node_plays(node, result)
        if self.op["mode"] != REMOTE_IMPORT:
            return
        found = result.hosts.get(node["name"])
        facts = (found.facts.get("gnt_remote_receive") if found else None) or {}
        self.listening = list(facts.get("disks") or [])

    def _announce(self, pnode: dict[str, Any]) -> None:
        """The job log's ``remote-import`` entry: where the source sends each disk."""
        ports: dict[int, int] = {}
        for entry in self.listening or []:
            ports[int(entry["index"])] = int(entry["port"])
            self.log(f"Disk {entry['index']} is now listening")
        if sorted(ports) != list(range(len(self.disks))):
            raise OpExecError(f"The receivers on {pnode['name']} did not report their ports"
                              f" (got disks {sorted(ports)} of {len(self.disks)})")
        salt = rie.new_salt()
        host = pnode["primary_ip"]
        disks = [rie.sign_disk_info(self.secret, salt, index, host, ports[index],
                                    self.magics[index]) for index in range(len(self.disks))]
        structured = getattr(self.feedback, "structured", None)
        if structured is None:
            raise OpExecError("This job cannot report remote import information (no"
                              " structured job log)")
        structured(ELOG_REMOTE_IMPORT, {"disks": disks, "x509_ca": self.signed_cert})

    def _receive(self, pnode: dict[str, Any], host: dict[str, Any]) -> None:
        """Wait for the receivers, logging each disk's progress every
        :data:`PROGRESS_INTERVAL` seconds (bytes, rate, and an estimate of the time left
        against the disk's size)."""
        if not self.disks:
            return
        self.log(f"* waiting for the {len(self.disks)} disk(s) from the source cluster")
        remote = {**self._remote(pnode, "finished"), "wait": PROGRESS_INTERVAL}
        play = Play(RECEIVE_ROLE, {pnode["name"]: {**host, "gnt_remote": remote}},
                    title="receive the disks")
        progress = _Progress([int(disk["size"]) for disk in self.disks])
        while True:
            result = self.ctx.executor.run([play], {pnode["name"]: node_access(self.cfg,
                                                                               pnode)},
                                           self.feedback)
            found = result.hosts.get(pnode["name"])
            facts = (found.facts.get("gnt_remote_receive") if found else None) or {}
            if not result.ok or str(facts.get("done", True)).lower() == "true":
                break
            for line in progress.lines(facts.get("received") or []):
                self.log(line)
        for entry in facts.get("disks") or []:
            size = entry.get("bytes")
            amount = f", {int(size) / 1048576:.1f} MiB written" if size is not None else ""
            self.log(f"Disk {entry.get('index')} finished receiving data"
                     f" ({entry.get('method')}{amount}, {entry.get('duration_s')} s)")
        if not result.ok:
            raise OpExecError(f"Remote import of {self.op['instance_name']} failed; the"
                              f" half-imported instance is removed:\n{result.failure_summary()}")

    def _stop_receivers(self, pnode: dict[str, Any], host: dict[str, Any]) -> None:
        if not self.disks or self.key_name is None:
            return
        play = Play(RECEIVE_ROLE, {pnode["name"]: {**host, "gnt_remote": self._remote(
            pnode, "absent")}}, title="stop the receivers")
        result = self.ctx.executor.run([play], {pnode["name"]: node_access(self.cfg, pnode)},
                                       self.feedback)
        if not result.ok:
            self.log(f"WARNING: could not stop the receivers on {pnode['name']}:"
                     f" {result.failure_summary()}")

    def _forget_key(self, pnode: dict[str, Any]) -> None:
        """Remove this move's key from the node (a failure is a warning: it expires)."""
        if self.key_name is None:
            return
        try:
            rpc.x509_remove(self.cfg, pnode, self.key_name)
        except rpc.NodeDown as err:
            self.log(f"WARNING: can't remove X509 key and certificate {self.key_name} on"
                     f" {pnode['name']}: {err} (it expires within a day)")
        self.key_name = None


class _Progress:
    """Progress lines of the disks being received: bytes, rate since the last line, and the
    time left estimated against each disk's size (exact without compression)."""

    def __init__(self, sizes_mib: list[int]) -> None:
        self.sizes = [size * 1048576 for size in sizes_mib]
        self.last: list[tuple[float, int] | None] = [None] * len(sizes_mib)

    def lines(self, received: list[Any], now: float | None = None) -> list[str]:
        import time

        moment = time.monotonic() if now is None else now
        lines = []
        for index, amount in enumerate(received[:len(self.sizes)]):
            if amount is None:
                lines.append(f"Disk {index} is waiting for its sender")
                continue
            amount = int(amount)
            text = f"Disk {index} received {amount / 1048576:.1f} MiB"
            previous = self.last[index]
            if previous is not None and moment > previous[0]:
                rate = (amount - previous[1]) / (moment - previous[0])
                text += f", {rate / 1048576:.1f} MiB/s"
                left = self.sizes[index] - amount
                if rate > 0 and left > 0:
                    text += f", about {left / rate:.0f} s left"
            self.last[index] = (moment, amount)
            lines.append(text)
        return lines
