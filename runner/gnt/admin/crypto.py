"""``gnt-cluster renew-crypto``: replace the remote API's certificate (a new self-signed one,
or the operator's own key and certificate) and the cluster domain secret (a new random one, or
the one another cluster uses, read from a file). Runs on the master without the master daemon, as
Ganeti's; the new ``rapi.pem`` or ``cluster-domain-secret`` (0600) goes to every online master
candidate too, so they survive a master-failover (config replication keeps them on candidates
later added; :mod:`gnt.nodes.replication`). A running gnt-rapi loads it within seconds.
"""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path

from gnt.admin import remote
from gnt.core import certs, resolver, rie, settings, ssconf
from gnt.core.errors import ECODE_ENVIRON, ECODE_INVAL, OpPrereqError
from gnt.core.fileutil import atomic_write

Feedback = Callable[[str], None]


def read_key_and_certificate(path: Path) -> bytes:
    """The PEM key and certificate in ``path``, checked to load as a TLS server's pair."""
    try:
        pem = path.read_bytes()
    except OSError as err:
        raise OpPrereqError(f"Unable to load X509 certificate from {path}: Unable to read"
                            f" certificate: {err.strerror}", ECODE_INVAL) from err
    with tempfile.NamedTemporaryFile(prefix="gnt-cert-check-") as tmp:
        tmp.write(pem)
        tmp.flush()
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(tmp.name)
        except ssl.SSLError as err:
            raise OpPrereqError(f"Unable to load X509 certificate from {path}: it must hold"
                                f" the private key and its certificate in PEM ({err})",
                                ECODE_INVAL) from err
    return pem


def new_rapi_certificate() -> bytes:
    """A new self-signed key and certificate for the cluster name and master IP."""
    name = ssconf.read("cluster_name") or resolver.this_node_name()
    alt = [a for a in (ssconf.read("master_ip"), "127.0.0.1", "localhost") if a]
    return certs.make_self_signed(name, alt)


def _check_master() -> None:
    master = ssconf.read("master_node")
    me = resolver.this_node_name()
    if master and master.split(".")[0] != me.split(".")[0]:
        raise OpPrereqError(f"This is not the master node: run renew-crypto on {master}",
                            ECODE_ENVIRON)


def _install_on_candidates(path: Path, content: bytes, what: str, feedback: Feedback) -> None:
    """Write ``content`` (0600) to ``path`` here and on every online master candidate."""
    atomic_write(path, content, mode=0o600)
    feedback(f"New {what} installed in {path}")
    candidates = set(ssconf.read_list("master_candidates"))
    targets = [t for t in remote.node_targets(None, include_master=False)
               if t.name in candidates and not t.local]
    if not targets:
        return
    for name, result in sorted(remote.copy_to_nodes(targets, str(path), content,
                                                    0o600).items()):
        if not result.ok:
            feedback(f"WARNING: could not copy the {what} to {name}: {result.reason()};"
                     " run renew-crypto again once it answers")


def renew_rapi_certificate(pem: bytes, feedback: Feedback = print) -> None:
    """Install ``pem`` as ``rapi.pem`` here (the master) and on the online candidates."""
    _check_master()
    _install_on_candidates(settings.paths().rapi_cert, pem, "remote API certificate", feedback)


def renew_domain_secret(secret: str | None, feedback: Feedback = print) -> None:
    """Install ``secret`` (a new random one when None) as the cluster domain secret here and
    on the online master candidates."""
    _check_master()
    value = secret if secret is not None else rie.new_domain_secret()
    _install_on_candidates(settings.paths().cluster_domain_secret, value.encode() + b"\n",
                           "cluster domain secret", feedback)
