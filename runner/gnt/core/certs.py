"""Self-signed TLS certificates of the cluster (the remote API's ``rapi.pem``).

One PEM file holds the private key and the certificate, written 0600 from creation, as
Ganeti's ``rapi.pem``. Made with the ``cryptography`` library (a dependency of Ansible).
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from gnt.core.fileutil import atomic_write

VALIDITY_DAYS = 5 * 365     # Ganeti's default certificate validity
KEY_BITS = 2048


def new_key():  # noqa: ANN201 - cryptography's RSAPrivateKey, imported lazily
    """A new RSA key of :data:`KEY_BITS` bits (the slow part: 0.1-0.4 s here)."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def make_self_signed(common_name: str, alt_names: list[str],
                     validity_seconds: int | None = None) -> bytes:
    """PEM of a new RSA key and a self-signed server certificate for ``common_name`` (also
    valid for ``alt_names``: host names or IP addresses), valid for ``validity_seconds``
    (default :data:`VALIDITY_DAYS`)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    sans: list[x509.GeneralName] = []
    for alt in dict.fromkeys([common_name, *alt_names]):
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(alt)))
        except ValueError:
            sans.append(x509.DNSName(alt))
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + (datetime.timedelta(days=VALIDITY_DAYS)
                                    if validity_seconds is None
                                    else datetime.timedelta(seconds=validity_seconds)))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return key_pem + cert.public_bytes(serialization.Encoding.PEM)


def write_self_signed(path: Path, common_name: str, alt_names: list[str]) -> None:
    """Write a new key and certificate to ``path`` (0600, replacing any old one atomically)."""
    atomic_write(path, make_self_signed(common_name, alt_names), mode=0o600)


def certificate_pem(path: Path) -> bytes:
    """The certificate part of a key+certificate PEM file (what a client trusts as CA)."""
    data = path.read_bytes()
    start = data.find(b"-----BEGIN CERTIFICATE-----")
    if start < 0:
        raise ValueError(f"{path} holds no certificate")
    return data[start:]
