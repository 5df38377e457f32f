"""Remote import/export trust (issue 15): Ganeti's HMAC-SHA1 protocol over the cluster domain
secret; every tampered, foreign or malformed value is refused with a message naming the check."""

from __future__ import annotations

import hmac
from hashlib import sha1

import pytest

from gnt.core import certs, rie

SECRET = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"


def test_hmac_is_ganetis_salt_then_message():
    expected = hmac.new(SECRET.encode(), b"abcd" + b"0:Hi, I'm Ganeti", sha1).hexdigest()
    assert rie.sha1_hmac(SECRET, "0:Hi, I'm Ganeti", "abcd") == expected
    assert rie.hmac_matches(SECRET, "x", rie.sha1_hmac(SECRET, "x", "ab").upper(), "ab")
    assert not rie.hmac_matches(SECRET, "x", None, "ab")


def test_handshake_accepted_with_the_same_secret_only():
    hs = rie.compute_handshake(SECRET)
    assert hs[0] == 0 and len(hs[2]) == 8
    assert rie.check_handshake(SECRET, hs) is None
    assert rie.check_handshake(OTHER, hs) == ("Hash didn't match, clusters don't share the same"
                                              " domain secret")
    tampered = [1, hs[1], hs[2]]
    assert "don't share the same domain secret" in rie.check_handshake(SECRET, tampered)
    newer = [1, rie.sha1_hmac(SECRET, "1:Hi, I'm Ganeti", "aa"), "aa"]
    assert rie.check_handshake(SECRET, newer) == ("Clusters don't have the same remote"
                                                  " import/export protocol (local=0, remote=1)")
    assert rie.check_handshake(SECRET, "junk").startswith("Invalid data")


def test_key_name_signed_and_checked():
    signed = rie.sign_key_name(SECRET, "x509-20261204-abc", "00ff")
    assert rie.check_key_name(SECRET, signed) == "x509-20261204-abc"
    with pytest.raises(rie.TrustError, match="HMAC does not match"):
        rie.check_key_name(OTHER, signed)
    with pytest.raises(rie.TrustError, match="HMAC does not match"):
        rie.check_key_name(SECRET, ["x509-other", signed[1], signed[2]])
    with pytest.raises(rie.TrustError, match="want \\[name, hmac, salt\\]"):
        rie.check_key_name(SECRET, ["a", "b"])


def _cert() -> str:
    pem = certs.make_self_signed("node1.example.com", []).decode()
    return pem[pem.index("-----BEGIN CERTIFICATE-----"):]


def test_signed_certificate_round_trip_and_refusals():
    cert = _cert()
    signed = rie.sign_certificate(cert, SECRET, "1234abcd")
    assert signed.startswith("X-Ganeti-Signature: 1234abcd/")
    assert rie.load_signed_certificate(signed, SECRET) == (cert, "1234abcd")
    with pytest.raises(rie.TrustError, match="signature is invalid"):
        rie.load_signed_certificate(signed, OTHER)
    with pytest.raises(rie.TrustError, match="signature is missing"):
        rie.load_signed_certificate(cert, SECRET)
    other = rie.sign_certificate(_cert(), SECRET, "1234abcd")
    swapped = signed.split("\n\n", 1)[0] + "\n\n" + other.split("\n\n", 1)[1]
    with pytest.raises(rie.TrustError, match="signature is invalid"):
        rie.load_signed_certificate(swapped, SECRET)
    with pytest.raises(rie.TrustError, match="Invalid salt"):
        rie.sign_certificate(cert, SECRET, "not hex")
    with pytest.raises(rie.TrustError, match="No X509 certificate"):
        rie.load_signed_certificate("X-Ganeti-Signature: 12/34\n\nnothing", SECRET)


def test_disk_info_signed_per_disk():
    info = rie.sign_disk_info(SECRET, "beef", 1, "198.18.0.12", 11050, "magic-1")
    assert rie.check_disk_info(SECRET, 1, info) == ("198.18.0.12", 11050, "magic-1")
    with pytest.raises(rie.TrustError, match="Disk 0: HMAC is wrong"):
        rie.check_disk_info(SECRET, 0, info)            # replayed for another disk
    with pytest.raises(rie.TrustError, match="Disk 1: HMAC is wrong"):
        rie.check_disk_info(SECRET, 1, ["198.18.0.66", *info[1:]])
    with pytest.raises(rie.TrustError, match="Disk 1: HMAC is wrong"):
        rie.check_disk_info(OTHER, 1, info)
    with pytest.raises(rie.TrustError, match="missing destination host, port or magic"):
        rie.check_disk_info(SECRET, 1, ["", 1, "m", "x", "y"])
    with pytest.raises(rie.TrustError, match="want \\[host, port, magic, hmac, salt\\]"):
        rie.check_disk_info(SECRET, 1, info[:3])


def test_domain_secret_file_read_and_created_0600(tmp_path, monkeypatch):
    from gnt.core import domainsecret, settings
    from gnt.core.errors import OpPrereqError

    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    path = settings.paths().cluster_domain_secret
    path.parent.mkdir(parents=True)
    assert domainsecret.ensure() is True
    first = path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600 and len(first.strip()) == 40
    assert domainsecret.ensure() is False and path.read_text() == first
    assert domainsecret.local_secret() == first.strip()
    given = tmp_path / "given"
    given.write_text("  abc123  \nsecond line\n")
    assert domainsecret.read(given) == "abc123"
    given.write_text("\n")
    with pytest.raises(OpPrereqError, match="No cluster domain secret in"):
        domainsecret.read(given)
    with pytest.raises(OpPrereqError, match="No such file or directory"):
        domainsecret.read(tmp_path / "missing")
    path.unlink()
    with pytest.raises(OpPrereqError, match="renew-crypto --new-cluster-domain-secret"):
        domainsecret.local_secret()
