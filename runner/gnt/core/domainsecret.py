"""The cluster domain secret on this node: ``<data dir>/cluster-domain-secret`` (0600), the
secret clusters share to move instances between them (see :mod:`gnt.core.rie`). Made at cluster
init, replaced by ``gnt-cluster renew-crypto`` (:mod:`gnt.admin.crypto`)."""

from __future__ import annotations

from pathlib import Path

from gnt.core import rie, settings
from gnt.core.errors import ECODE_ENVIRON, ECODE_INVAL, OpPrereqError
from gnt.core.fileutil import atomic_write


def read(path: Path) -> str:
    """The cluster domain secret in the file ``path`` (its first line, stripped): what
    ``--cluster-domain-secret=FILE`` installs."""
    try:
        text = path.read_text(encoding="ascii", errors="strict")
    except (OSError, UnicodeError) as err:
        raise OpPrereqError(f"[Errno {getattr(err, 'errno', '')}] {getattr(err, 'strerror', '')}:"
                            f" '{path}'" if isinstance(err, OSError) else
                            f"{path} is not an ASCII text file", ECODE_INVAL) from err
    secret = text.strip().split("\n", 1)[0].strip() if text.strip() else ""
    if not secret or any(char.isspace() for char in secret):
        raise OpPrereqError(f"No cluster domain secret in {path}: the file must hold the secret"
                            " on its first line", ECODE_INVAL)
    return secret


def local_secret() -> str:
    """This node's cluster domain secret (OpPrereqError naming the file if it has none)."""
    path = settings.paths().cluster_domain_secret
    try:
        return read(path)
    except OpPrereqError as err:
        raise OpPrereqError(f"This cluster has no usable cluster domain secret ({err.message});"
                            " create one with 'gnt-cluster renew-crypto"
                            " --new-cluster-domain-secret'", ECODE_ENVIRON) from err


def ensure() -> bool:
    """Create this node's cluster domain secret (0600) unless it exists; True if created."""
    path = settings.paths().cluster_domain_secret
    if path.exists():
        return False
    atomic_write(path, rie.new_domain_secret().encode() + b"\n", mode=0o600)
    return True
