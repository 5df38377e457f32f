"""Remote import and export (issue 15, move-instance's two halves): OP_INSTANCE_CREATE in
remote-import mode and OP_BACKUP_EXPORT in remote mode, real LUs, Master and node calls (the
per-move key is made on the master), recording executor (the receive/send roles' outcomes
come as facts). One cluster plays both sides: it shares its domain secret with itself."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from gnt.core import certs, domainsecret, rie, settings
from gnt.core.jobstate import ELOG_REMOTE_IMPORT, ERROR, SUCCESS
from gnt.lu.instance_remote_import import certificate_problem, disk_magic

DEST = "inst1.example.com"
SRC = "web-1.example2"


def _cert() -> str:
    pem = certs.make_self_signed("source-node", [])
    return pem[pem.index(b"-----BEGIN CERTIFICATE-----"):].decode()


def _source(secret: str, **over: Any) -> dict[str, Any]:
    ops = {"source_handshake": rie.compute_handshake(secret),
           "source_x509_ca": rie.sign_certificate(_cert(), secret, rie.new_salt()),
           "source_instance_name": SRC}
    return {**ops, **over}


def _import(cluster, **over: Any):
    secret = domainsecret.local_secret()
    op = {"instance_name": DEST, "mode": "remote-import", "disk_template": "file",
          "disks": [{"size": 64}, {"size": 32}], "start": False, **_source(secret)}
    op.update(over)
    return cluster.run("OP_INSTANCE_CREATE", **op)


def _listening(cluster, count: int = 2) -> None:
    cluster.executor.facts["instance_remote_receive"] = {"gnt_remote_receive": {
        "disks": [{"index": index, "port": 41000 + index} for index in range(count)]}}


def _keys() -> list[str]:
    crypto = settings.paths().crypto_dir
    return sorted(p.name for p in crypto.iterdir()) if crypto.exists() else []


def _instances(cluster) -> list[str]:
    return [inst["name"] for inst in cluster.master.config.all("instances")]


def test_remote_import_announces_signed_disks_and_receives(cluster):
    _listening(cluster)
    job = _import(cluster)
    assert job.status == SUCCESS, job.ops[0].log
    entries = [e for e in job.ops[0].log if e[2] == ELOG_REMOTE_IMPORT]
    assert len(entries) == 1
    info = entries[0][3]
    secret = domainsecret.local_secret()
    node_ip = cluster.master.config.lookup("nodes", "node1.example.com")["primary_ip"]
    magics = []
    for index in (0, 1):
        host, port, magic = rie.check_disk_info(secret, index, info["disks"][index])
        assert (host, port) == (node_ip, 41000 + index)
        magics.append(magic)
    assert len(set(magics)) == 2
    cert, _salt = rie.load_signed_certificate(info["x509_ca"], secret)
    assert "PRIVATE" not in info["x509_ca"] and certificate_problem(cert) is None
    roles = [p.role for p in cluster.executor.calls[-2]] + [p.role for p in
                                                            cluster.executor.calls[-1]]
    assert roles == ["instance_create", "instance_remote_receive", "instance_remote_receive"]
    listen = cluster.executor.calls[-2][1].hosts["node1.example.com"]["gnt_remote"]
    finish = cluster.executor.calls[-1][0].hosts["node1.example.com"]["gnt_remote"]
    assert listen["state"] == "listening" and finish["state"] == "finished"
    assert listen["magics"] == magics and listen["old_name"] == SRC
    assert "BEGIN CERTIFICATE" in listen["peer_ca"] and "Signature" not in listen["peer_ca"]
    assert cluster.executor.calls[-2][0].hosts["node1.example.com"]["gnt_install"] is False
    assert _instances(cluster) == [DEST]
    assert _keys() == []                      # the per-move key is gone


def test_start_after_the_data(cluster):
    _listening(cluster)
    job = _import(cluster, start=True)
    assert job.status == SUCCESS, job.ops[0].log
    assert cluster.executor.roles()[-1] == "instance_start"
    assert cluster.master.config.lookup("instances", DEST)["admin_state"] == "up"
    assert job.ops[0].input["start"] is True            # the job keeps what was asked
    assert job.ops[0].input["no_install"] is False


@pytest.mark.parametrize("over, message", [
    ({"source_handshake": None}, "Missing source handshake"),
    ({"source_handshake": rie.compute_handshake("f" * 40)},
     "Invalid handshake: Hash didn't match, clusters don't share the same domain secret"),
    ({"source_x509_ca": None}, "Missing source X509 CA"),
    ({"source_x509_ca": "nonsense"}, "Unable to load source X509 CA (X509 certificate"
                                     " signature is missing)"),
    ({"source_instance_name": None}, "Missing source instance name"),
])
def test_remote_import_refusals(cluster, over, message):
    job = _import(cluster, **over)
    assert job.status == ERROR
    result = job.ops[0].result
    assert message in str(result) and "wrong_input" in str(result), result
    assert _instances(cluster) == [] and _keys() == []
    assert cluster.executor.calls == [] or "instance_create" not in cluster.executor.roles()


def test_tampered_or_foreign_ca_refused(cluster):
    secret = domainsecret.local_secret()
    signed = rie.sign_certificate(_cert(), "e" * 40, rie.new_salt())
    job = _import(cluster, source_x509_ca=signed)
    assert job.status == ERROR
    assert "Unable to load source X509 CA (X509 certificate signature is invalid)" in \
        str(job.ops[0].result)
    other = rie.sign_certificate(_cert(), secret, rie.new_salt())
    head, body = other.split("\n\n", 1)
    job = _import(cluster, source_x509_ca=head + "\n\n" + _cert())   # another certificate
    assert job.status == ERROR and "signature is invalid" in str(job.ops[0].result)
    assert body and _instances(cluster) == []


def test_expired_certificate_is_named():
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=4000)
    assert "expired" in str(certificate_problem(_cert(), later))


def test_failed_transfer_removes_the_half_instance(cluster, monkeypatch):
    _listening(cluster)
    executor = cluster.executor
    real_run = executor.run

    def run(plays, nodes, feedback):
        remote = plays[0].hosts.get("node1.example.com", {}).get("gnt_remote", {})
        if remote.get("state") == "finished":
            executor.fail_roles = {"instance_remote_receive": "disk 1: stream broken"}
        try:
            return real_run(plays, nodes, feedback)
        finally:
            executor.fail_roles = {}
    monkeypatch.setattr(executor, "run", run)
    job = _import(cluster)
    assert job.status == ERROR
    assert "disk 1: stream broken" in str(job.ops[0].result)
    assert "half-imported instance is removed" in str(job.ops[0].result)
    roles = executor.roles()
    assert roles[-3:] == ["instance_remote_receive", "instance_remote_receive",
                          "instance_remove"], roles
    states = [p.hosts["node1.example.com"]["gnt_remote"]["state"]
              for plays in executor.calls for p in plays if p.role == "instance_remote_receive"]
    assert states == ["listening", "finished", "absent"]
    assert _instances(cluster) == [] and _keys() == []


def test_progress_while_the_disks_stream(cluster, monkeypatch):
    _listening(cluster)
    executor = cluster.executor
    real_run = executor.run
    answers = [{"done": False, "received": [1048576, None]},
               {"done": False, "received": [3 * 1048576, 0]}]

    def run(plays, nodes, feedback):
        remote = plays[0].hosts.get("node1.example.com", {}).get("gnt_remote", {})
        result = real_run(plays, nodes, feedback)
        if remote.get("state") == "finished":
            assert remote["wait"] > 0
            if answers:
                result.hosts["node1.example.com"].facts["gnt_remote_receive"] = answers.pop(0)
        return result
    monkeypatch.setattr(executor, "run", run)
    job = _import(cluster)
    assert job.status == SUCCESS, job.ops[0].log
    text = "\n".join(str(e[3]) for e in job.ops[0].log)
    assert "Disk 0 received 1.0 MiB" in text and "Disk 1 is waiting for its sender" in text
    assert "Disk 0 received 3.0 MiB, " in text and "MiB/s, about" in text
    states = [p.hosts["node1.example.com"]["gnt_remote"]["state"]
              for plays in executor.calls for p in plays if p.role == "instance_remote_receive"]
    assert states == ["listening", "finished", "finished", "finished"]


def test_listen_failure_removes_the_half_instance(cluster):
    cluster.executor.fail_roles = {"instance_remote_receive": "receiver of disk 0 ended"}
    job = _import(cluster)
    assert job.status == ERROR and "receiver of disk 0 ended" in str(job.ops[0].result)
    assert cluster.executor.roles()[-1] == "instance_remove"
    assert _instances(cluster) == [] and _keys() == []


def test_diskless_announces_no_disks(cluster):
    job = _import(cluster, disk_template="diskless", disks=[])
    assert job.status == SUCCESS, job.ops[0].log
    info = [e[3] for e in job.ops[0].log if e[2] == ELOG_REMOTE_IMPORT][0]
    assert info["disks"] == [] and "instance_remote_receive" not in cluster.executor.roles()


def test_magic_is_ganetis():
    assert disk_magic("abc", "i1", 0) != disk_magic("abc", "i1", 1)
    assert len(disk_magic("abc", "i1", 0)) == 40


# -- source: remote export ----------------------------------------------------------------------
def _source_instance(cluster, start: bool = False) -> dict[str, Any]:
    job = cluster.run("OP_INSTANCE_CREATE", instance_name=SRC, disk_template="file",
                      disks=[{"size": 64}], no_install=True, start=start)
    assert job.status == SUCCESS, job.ops[0].log
    job = cluster.run("OP_BACKUP_PREPARE", instance_name=SRC, mode="remote")
    assert job.status == SUCCESS, job.ops[0].log
    return job.ops[0].result


def _destination(secret: str, count: int = 1) -> dict[str, Any]:
    salt = rie.new_salt()
    return {"target_node": [rie.sign_disk_info(secret, salt, index, "198.18.0.99",
                                               42000 + index, f"magic{index}")
                            for index in range(count)],
            "destination_x509_ca": rie.sign_certificate(_cert(), secret, rie.new_salt())}


def _export(cluster, prepared, **over: Any):
    secret = domainsecret.local_secret()
    op = {"instance_name": SRC, "mode": "remote", "x509_key_name": prepared["x509_key_name"],
          "compress": "gzip", **_destination(secret)}
    op.update(over)
    return cluster.run("OP_BACKUP_EXPORT", **op)


def _sent(cluster, *oks: bool) -> None:
    cluster.executor.facts["instance_remote_send"] = {"gnt_export_result": {"msg": "", "disks": [
        {"index": index, "ok": ok, "method": "raw", "duration_s": 0.1,
         "msg": "" if ok else f"disk {index}: connection refused"}
        for index, ok in enumerate(oks)]}}


def test_remote_export_streams_and_removes(cluster):
    prepared = _source_instance(cluster, start=True)
    key_name = prepared["x509_key_name"][0]
    assert _keys() == [key_name]
    _sent(cluster, True)
    job = _export(cluster, prepared, remove_instance=True)
    assert job.status == SUCCESS, job.ops[0].log
    assert job.ops[0].result == [True, [True]]
    plays = cluster.executor.calls[-2]
    assert [p.role for p in plays] == ["instance_stop", "instance_remote_send"]
    remote = plays[1].hosts["node1.example.com"]["gnt_remote"]
    assert remote["disks"] == [{"index": 0, "host": "198.18.0.99", "port": 42000,
                                "magic": "magic0"}]
    assert remote["compression"] == "gzip"
    assert remote["key_dir"] == str(settings.paths().crypto_dir / key_name)
    assert cluster.executor.roles()[-1] == "instance_remove"
    assert _instances(cluster) == [] and _keys() == []


def test_remote_export_failure_keeps_and_restarts_the_instance(cluster):
    prepared = _source_instance(cluster, start=True)
    _sent(cluster, False)
    job = _export(cluster, prepared, remove_instance=True)
    assert job.status == ERROR
    assert "Export failed, errors in disk export: disk(s) 0" in str(job.ops[0].result)
    assert "instance_remove" not in cluster.executor.roles()
    assert cluster.executor.roles()[-1] == "instance_start"
    assert _instances(cluster) == [SRC] and _keys() == []


@pytest.mark.parametrize("change, message", [
    ("count", "Received destination information for 2 disks, but instance"),
    ("key", "HMAC for X509 key name is wrong"),
    ("no_key", "Missing X509 key name for encryption"),
    ("no_ca", "Missing destination X509 CA"),
    ("disk", "Target info for disk 0: Disk 0: HMAC is wrong"),
    ("ca", "Unable to load destination X509 CA (X509 certificate signature is invalid)"),
])
def test_remote_export_refusals(cluster, change, message):
    prepared = _source_instance(cluster)
    secret = domainsecret.local_secret()
    over: dict[str, Any] = {}
    if change == "count":
        over = _destination(secret, 2)
    elif change == "key":
        name, digest, salt = prepared["x509_key_name"]
        over = {"x509_key_name": ["x509-20260101000000-other", digest, salt]}
    elif change == "no_key":
        over = {"x509_key_name": None}
    elif change == "no_ca":
        over = {"destination_x509_ca": None}
    elif change == "disk":
        dest = _destination(secret)
        dest["target_node"][0][1] = 42999             # another port, same HMAC
        over = dest
    elif change == "ca":
        over = {"destination_x509_ca": rie.sign_certificate(_cert(), "d" * 40, "abcd")}
    before = len(cluster.executor.calls)
    job = _export(cluster, prepared, **over)
    assert job.status == ERROR and message in str(job.ops[0].result), job.ops[0].result
    assert len(cluster.executor.calls) == before       # nothing ran on a node
    assert _instances(cluster) == [SRC]


def test_local_export_still_wants_a_node(cluster):
    _source_instance(cluster)
    job = cluster.run("OP_BACKUP_EXPORT", instance_name=SRC, target_node=[["a"]])
    assert job.status == ERROR and "needs a node name" in str(job.ops[0].result)
