"""Remote import/export trust: what two clusters exchange to move an instance, signed with
HMAC-SHA1 over the cluster domain secret both share (Ganeti's protocol, so a move works between
gnt.cluster and Ganeti clusters alike).

- Handshake: ``[version, hmac("<version>:Hi, I'm Ganeti"), salt]``; the peer checks the HMAC
  (same domain secret) and the version.
- X509 key name: ``[name, hmac(name), salt]``: the name of the key the source node made for
  this move, so the destination can name it back without being able to forge another.
- Signed certificate: the certificate's PEM preceded by ``X-Ganeti-Signature: salt/hmac`` and an
  empty line; loading it checks the HMAC over the PEM.
- Disk info (destination to source, per disk): ``[host, port, magic, hmac, salt]`` over
  ``"<index>:<host>:<port>:<magic>"``.

HMACs are ``HMAC-SHA1(secret, salt + message)`` in hex; salts are hex strings. Comparisons are
constant-time. Every check names what failed.
"""

from __future__ import annotations

import hmac
import re
import secrets
from hashlib import sha1
from typing import Any

RIE_VERSION = 0
RIE_HANDSHAKE = "Hi, I'm Ganeti"
RIE_CERT_VALIDITY = 24 * 60 * 60      # seconds a per-move certificate is valid
SIGNATURE_HEADER = "X-Ganeti-Signature"
SALT_BYTES = 4                         # 8 hex digits, as Ganeti's salts
DOMAIN_SECRET_BYTES = 20               # 40 hex digits
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_SIGNATURE_LINE = re.compile(rf"^{re.escape(SIGNATURE_HEADER)}:\s*(?P<salt>[a-zA-Z0-9]+)/"
                             r"(?P<sign>[a-zA-Z0-9]+)$", re.I)


class TrustError(ValueError):
    """A signed value from the other cluster failed a check (the message names it)."""


def new_salt() -> str:
    """A fresh HMAC salt."""
    return secrets.token_hex(SALT_BYTES)


def new_domain_secret() -> str:
    """A fresh cluster domain secret."""
    return secrets.token_hex(DOMAIN_SECRET_BYTES)


def sha1_hmac(key: str, message: str | bytes, salt: str = "") -> str:
    """Hex HMAC-SHA1 of ``salt + message`` under ``key``."""
    body = message.encode() if isinstance(message, str) else message
    return hmac.new(key.encode(), salt.encode() + body, sha1).hexdigest()


def hmac_matches(key: str, message: str | bytes, digest: Any, salt: Any = "") -> bool:
    """True when ``digest`` is the HMAC of ``message`` with ``salt`` (constant-time)."""
    if not isinstance(digest, str) or not isinstance(salt, str):
        return False
    return hmac.compare_digest(sha1_hmac(key, message, salt), digest.lower())


def _handshake_message(version: Any) -> str:
    return f"{version}:{RIE_HANDSHAKE}"


def compute_handshake(secret: str) -> list[Any]:
    """This cluster's handshake for a remote export or import."""
    salt = new_salt()
    return [RIE_VERSION, sha1_hmac(secret, _handshake_message(RIE_VERSION), salt), salt]


def check_handshake(secret: str, handshake: Any) -> str | None:
    """None when ``handshake`` comes from a cluster sharing our domain secret and protocol,
    else why not."""
    if not isinstance(handshake, list | tuple) or len(handshake) != 3:
        return f"Invalid data: the handshake must be [version, hmac, salt], not {handshake!r:.80}"
    version, digest, salt = handshake
    if not hmac_matches(secret, _handshake_message(version), digest, salt):
        return "Hash didn't match, clusters don't share the same domain secret"
    if version != RIE_VERSION:
        return ("Clusters don't have the same remote import/export protocol"
                f" (local={RIE_VERSION}, remote={version})")
    return None


def sign_key_name(secret: str, name: str, salt: str) -> list[str]:
    """``[name, hmac, salt]`` for the X509 key a node made for one move."""
    return [name, sha1_hmac(secret, name, salt), salt]


def check_key_name(secret: str, value: Any) -> str:
    """The key name of a signed ``[name, hmac, salt]`` (TrustError if it does not verify)."""
    if not isinstance(value, list | tuple) or len(value) != 3 or not all(
            isinstance(part, str) for part in value):
        raise TrustError(f"Invalid X509 key name {value!r:.80}: want [name, hmac, salt]")
    name, digest, salt = value
    if not hmac_matches(secret, name, digest, salt):
        raise TrustError("Invalid X509 key name: its HMAC does not match the cluster domain"
                         " secret")
    return name


def sign_certificate(cert_pem: str, secret: str, salt: str) -> str:
    """``cert_pem`` with the signature header in front."""
    if not _HEX.match(salt):
        raise TrustError(f"Invalid salt {salt!r}: hex digits only")
    body = _normalized_pem(cert_pem)
    return f"{SIGNATURE_HEADER}: {salt}/{sha1_hmac(secret, body, salt)}\n\n{body}"


def load_signed_certificate(signed: str, secret: str) -> tuple[str, str]:
    """(certificate PEM, salt) of a signed certificate; TrustError when the signature is
    missing or does not verify, or the certificate does not parse."""
    signature = None
    for line in signed.splitlines():
        if line.startswith("---"):
            break
        match = _SIGNATURE_LINE.match(line.strip())
        if match:
            signature = (match.group("salt"), match.group("sign"))
            break
    if signature is None:
        raise TrustError("X509 certificate signature is missing")
    body = _normalized_pem(signed)
    if not hmac_matches(secret, body, signature[1], signature[0]):
        raise TrustError("X509 certificate signature is invalid")
    return body, signature[0]


def _normalized_pem(text: str) -> str:
    """The first certificate in ``text``, loaded and written back as PEM (so the HMAC is over a
    canonical form); TrustError if there is none."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    start = text.find("-----BEGIN CERTIFICATE-----")
    if start < 0:
        raise TrustError("No X509 certificate found")
    try:
        cert = x509.load_pem_x509_certificate(text[start:].encode())
    except ValueError as err:
        raise TrustError(f"Invalid X509 certificate: {err}") from err
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _disk_message(index: int, host: str, port: Any, magic: str) -> str:
    return f"{index}:{host}:{port}:{magic}"


def sign_disk_info(secret: str, salt: str, index: int, host: str, port: int,
                   magic: str) -> list[Any]:
    """Where the source sends disk ``index``: ``[host, port, magic, hmac, salt]``."""
    return [host, port, magic, sha1_hmac(secret, _disk_message(index, host, port, magic), salt),
            salt]


def check_disk_info(secret: str, index: int, info: Any) -> tuple[str, int, str]:
    """(host, port, magic) of signed disk info; TrustError naming the failed check."""
    if not isinstance(info, list | tuple) or len(info) != 5:
        raise TrustError(f"Invalid data for disk {index}: want [host, port, magic, hmac, salt],"
                         f" not {info!r:.80}")
    host, port, magic, digest, salt = info
    if not (host and port and magic):
        raise TrustError(f"Disk {index}: missing destination host, port or magic")
    if not hmac_matches(secret, _disk_message(index, host, port, magic), digest, salt):
        raise TrustError(f"Disk {index}: HMAC is wrong (tampered disk information or another"
                         " cluster domain secret)")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise TrustError(f"Disk {index}: invalid port {port!r}")
    return str(host), port, str(magic)
