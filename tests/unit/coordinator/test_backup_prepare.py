"""OP_BACKUP_PREPARE (issue 15): a remote export's handshake, signed key name and CA, made on
the primary node (here the master itself, through the real node call); local mode needs none."""

from __future__ import annotations

import time

from gnt.core import domainsecret, rie, settings
from gnt.core.jobstate import ERROR, SUCCESS
from gnt.nodes import x509keys

NAME = "inst1.example.com"


def _create(cluster):
    job = cluster.run("OP_INSTANCE_CREATE", instance_name=NAME, disk_template="diskless",
                      disks=[], os_type="blank", name_check=False, ip_check=False,
                      no_install=True, start=False)
    assert job.status == SUCCESS, job.ops[0].log


def test_remote_prepare_signed_with_the_domain_secret(cluster):
    _create(cluster)
    job = cluster.run("OP_BACKUP_PREPARE", instance_name=NAME, mode="remote")
    assert job.status == SUCCESS, job.ops[0].log
    answer = job.ops[0].result
    secret = domainsecret.local_secret()
    assert rie.check_handshake(secret, answer["handshake"]) is None
    key_name = rie.check_key_name(secret, answer["x509_key_name"])
    cert, salt = rie.load_signed_certificate(answer["x509_ca"], secret)
    assert salt == answer["x509_key_name"][2]
    files = x509keys.paths_of(key_name)                     # the key stays on the node
    key_file = settings.paths().crypto_dir / key_name / "key"
    assert files["key"] == str(key_file) and key_file.stat().st_mode & 0o777 == 0o600
    assert (settings.paths().crypto_dir / key_name).stat().st_mode & 0o777 == 0o700
    assert open(files["cert"]).read() == cert
    assert "PRIVATE KEY" not in answer["x509_ca"]
    other = "f" * 40
    assert rie.check_handshake(other, answer["handshake"]) is not None
    assert x509keys.remove(key_name) is True and x509keys.remove(key_name) is False


def test_local_prepare_is_none_and_makes_no_key(cluster):
    _create(cluster)
    job = cluster.run("OP_BACKUP_PREPARE", instance_name=NAME, mode="local")
    assert job.status == SUCCESS and job.ops[0].result is None
    assert not settings.paths().crypto_dir.exists() or not any(
        settings.paths().crypto_dir.iterdir())


def test_without_domain_secret_refused_naming_the_fix(cluster):
    _create(cluster)
    settings.paths().cluster_domain_secret.unlink()
    job = cluster.run("OP_BACKUP_PREPARE", instance_name=NAME, mode="remote")
    assert job.status == ERROR
    assert "renew-crypto --new-cluster-domain-secret" in str(job.ops[0].result)
    assert not settings.paths().crypto_dir.exists()


def test_unknown_instance_and_bad_key_names(cluster):
    job = cluster.run("OP_BACKUP_PREPARE", instance_name="nosuch.example.com", mode="remote")
    assert job.status == ERROR and "nosuch.example.com" in str(job.ops[0].result)
    for bad in ("../etc", "x509-1-a/../../x", ""):
        try:
            x509keys.remove(bad)
        except ValueError as err:
            assert "invalid X509 key name" in str(err)
        else:
            raise AssertionError(f"{bad!r} accepted")


def test_a_new_key_removes_the_expired_ones_left_behind(cluster):
    """Keys of moves that never ended: older than the longest validity, gone at the next key."""
    crypto = settings.paths().crypto_dir
    old_stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() - rie.RIE_CERT_VALIDITY - 60))
    recent_stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() - 3600))
    crypto.mkdir(parents=True, exist_ok=True)
    old, recent, other = (crypto / f"x509-{old_stamp}-abc", crypto / f"x509-{recent_stamp}-def",
                          crypto / "not-a-key")
    for path in (old, recent, other):
        path.mkdir(mode=0o700)
        (path / "key").write_text("k")
    name, _pem = x509keys.create()
    assert not old.exists()
    assert recent.is_dir() and other.is_dir() and (crypto / name).is_dir()
