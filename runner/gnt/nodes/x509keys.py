"""Per-move X509 keys of a node (remote export/import, as Ganeti's ``x509_cert_create`` and
``x509_cert_remove`` node calls): a new RSA key and self-signed certificate in
``<run dir>/crypto/x509-<time>-<random>/`` (directories 0700, the key 0600), the certificate
valid for at most a day; the key never leaves the node. A key older than that is of no use
(its certificate has expired): each new key removes those left behind by moves that never
ended (Ganeti's remove call comes only at the end of an export or import).
"""

from __future__ import annotations

import calendar
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from gnt.core import certs, resolver, rie, settings
from gnt.core.fileutil import ensure_dir

KEY_FILE = "key"
CERT_FILE = "cert"
NAME_RE = re.compile(r"^x509-(\d{14})-[A-Za-z0-9_]+$")
STAMP_FORMAT = "%Y%m%d%H%M%S"  # UTC, the digits in NAME_RE


def create(validity: str | int = rie.RIE_CERT_VALIDITY) -> list[str]:
    """Make a key and certificate; ``[name, certificate PEM]``."""
    seconds = min(int(validity), rie.RIE_CERT_VALIDITY)
    if seconds <= 0:
        raise ValueError(f"certificate validity {validity!r} must be positive")
    crypto = settings.paths().crypto_dir
    ensure_dir(crypto)
    _prune_expired(crypto)
    stamp = time.strftime(STAMP_FORMAT, time.gmtime())
    directory = tempfile.mkdtemp(dir=crypto, prefix=f"x509-{stamp}-")  # 0700
    pem = certs.make_self_signed(resolver.this_node_name(), [], validity_seconds=seconds)
    start = pem.index(b"-----BEGIN CERTIFICATE-----")
    with os.fdopen(os.open(os.path.join(directory, KEY_FILE),
                           os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(pem[:start])
    with open(os.path.join(directory, CERT_FILE), "wb") as out:
        out.write(pem[start:])
    return [os.path.basename(directory), pem[start:].decode("ascii")]


def _prune_expired(crypto: Path) -> None:
    """Remove the keys in ``crypto`` made more than the longest validity ago."""
    limit = time.time() - rie.RIE_CERT_VALIDITY
    for entry in crypto.iterdir():
        match = NAME_RE.match(entry.name)
        if not match or not entry.is_dir() or entry.is_symlink():
            continue
        try:
            made = calendar.timegm(time.strptime(match.group(1), STAMP_FORMAT))
        except ValueError:
            continue
        if made < limit:
            shutil.rmtree(entry, ignore_errors=True)


def remove(key_name: str) -> bool:
    """Delete the key and certificate ``key_name``; False if there was none."""
    if not NAME_RE.match(key_name or ""):
        raise ValueError(f"invalid X509 key name {key_name!r}")
    path = settings.paths().crypto_dir / key_name
    if not path.is_dir():
        return False
    shutil.rmtree(path)
    return True


def paths_of(name: str) -> dict[str, Any]:
    """The key and certificate files of ``name`` (ValueError for a bad or unknown name)."""
    if not NAME_RE.match(name or ""):
        raise ValueError(f"invalid X509 key name {name!r}")
    directory = settings.paths().crypto_dir / name
    if not (directory / KEY_FILE).is_file():
        raise ValueError(f"no X509 key named {name} on this node")
    return {"key": str(directory / KEY_FILE), "cert": str(directory / CERT_FILE)}
