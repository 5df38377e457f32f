"""OP_BACKUP_PREPARE: what a remote export (to another cluster) starts from, as Ganeti's.

For ``mode=remote`` the instance's primary node makes a key and self-signed certificate for this
move (valid one day, the key stays on the node); the answer is the handshake, the key's name and
the certificate, each signed with the cluster domain secret (:mod:`gnt.core.rie`), so the
destination cluster can check that they come from a cluster sharing its secret. ``mode=local``
needs nothing and answers None.
"""

from __future__ import annotations

from typing import Any

from gnt.core import domainsecret, rie
from gnt.core.errors import ECODE_STATE, OpExecError, OpPrereqError
from gnt.lu.base import register
from gnt.lu.instance_base import InstanceLU
from gnt.nodes import rpc
from gnt.opcodes.backup import EXPORT_MODE_REMOTE


@register
class LUBackupPrepare(InstanceLU):
    """``PUT /2/instances/NAME/prepare-export?mode=remote`` (move-instance's first step)."""

    OP_ID = "OP_BACKUP_PREPARE"

    def check_prereq(self) -> None:
        super().check_prereq()
        self.secret = ""
        if self.op["mode"] != EXPORT_MODE_REMOTE:
            return
        self.secret = domainsecret.local_secret()
        self.pnode = self.cfg.get("nodes", self.instance["primary_node"])
        if self.pnode["offline"]:
            raise OpPrereqError(f"Cannot prepare the export of {self.instance['name']}: its"
                                f" primary node {self.pnode['name']} is offline", ECODE_STATE)

    def exec(self) -> Any:
        if self.op["mode"] != EXPORT_MODE_REMOTE:
            return None
        self.log(f"Generating X509 certificate on {self.pnode['name']}")
        try:
            name, cert = rpc.x509_create(self.cfg, self.pnode, rie.RIE_CERT_VALIDITY)
        except rpc.NodeDown as err:
            raise OpExecError(f"Can't create X509 key and certificate on"
                              f" {self.pnode['name']}: {err}") from err
        salt = rie.new_salt()
        return {"handshake": rie.compute_handshake(self.secret),
                "x509_key_name": rie.sign_key_name(self.secret, name, salt),
                "x509_ca": rie.sign_certificate(cert, self.secret, salt)}
