"""Corrupt or stale state on disk (issue 10): a config.data changed under the running daemon is
never overwritten; unreadable job files are quarantined, never dropped; job ids never go
backwards; one bad job does not stop autoarchive; temp files of killed writers are removed.
"""

from __future__ import annotations

import json
import logging

from gnt.config.store import ConfigStore
from gnt.core import settings
from gnt.core.jobstate import ERROR, SUCCESS
from gnt.jobs.job import Job, OpCode
from gnt.jobs.queue import JobQueue


def test_config_corrupted_under_the_daemon_is_never_overwritten(cluster, caplog):
    config = settings.paths().config_file
    prev = config.parent / "config.data.prev"
    cluster.run("OP_TAGS_SET", kind="cluster", tags=["one"])
    good, prev_before = config.read_bytes(), prev.read_bytes()
    config.write_bytes(b'{"serial_no": 3, "clus')               # torn / corrupted file
    with caplog.at_level(logging.ERROR):
        job = cluster.run("OP_TAGS_SET", kind="cluster", tags=["two"])
    assert job.status == ERROR
    text = str(job.ops[0].result)
    assert str(config) in text and "changed or corrupted" in text, text
    assert config.read_bytes() == b'{"serial_no": 3, "clus'      # not overwritten
    assert prev.read_bytes() == prev_before                      # not rotated into .prev
    assert any(str(config) in rec.getMessage() for rec in caplog.records if rec.levelname == "ERROR")
    assert "two" not in cluster.master.config.cluster()["tags"]
    config.write_bytes(good)                                     # the operator restores it
    assert cluster.run("OP_TAGS_SET", kind="cluster", tags=["two"]).status == SUCCESS
    assert prev.read_bytes() == good


def test_config_edited_behind_the_daemons_back_is_not_overwritten(cluster):
    config = settings.paths().config_file
    data = json.loads(config.read_bytes())
    data["cluster"]["tags"] = ["edited-by-hand"]
    edited = json.dumps(data).encode()
    config.write_bytes(edited)
    job = cluster.run("OP_TAGS_SET", kind="cluster", tags=["lost-edit"])
    assert job.status == ERROR and "refusing to overwrite" in str(job.ops[0].result)
    assert config.read_bytes() == edited


def _finished_job(job_id: int) -> Job:
    job = Job(id=job_id, ops=[OpCode(input={"OP_ID": "OP_TEST_DELAY"})])
    job.finalize_remaining(SUCCESS, None)
    return job


def test_unreadable_job_file_is_quarantined_and_ids_continue_after_it(tmp_path, caplog):
    qdir = tmp_path / "queue"
    queue = JobQueue(qdir)
    queue.jobs[3] = _finished_job(3)
    queue.update(queue.jobs[3])
    (qdir / "job-5").write_bytes(b"\x00garbage")                  # unreadable
    (qdir / "serial").write_text("2\n")                           # behind job 3 and job 5
    fresh = JobQueue(qdir)
    with caplog.at_level(logging.ERROR):
        fresh.load()
    assert (qdir / "quarantine" / "job-5").read_bytes() == b"\x00garbage"
    assert not (qdir / "job-5").exists()
    assert any("job-5" in rec.getMessage() and "quarantine" in rec.getMessage()
               for rec in caplog.records)
    job = fresh.submit([{"OP_ID": "OP_TEST_DELAY", "duration": 0}], 0)
    assert job.id == 6                                            # after the newest, never 3
    assert json.loads((qdir / "job-3").read_text())["id"] == 3    # job 3 not overwritten


def test_serial_behind_an_archived_job_continues_after_it(tmp_path):
    qdir = tmp_path / "queue"
    (qdir / "archive" / "1").mkdir(parents=True)
    (qdir / "archive" / "1" / "job-10007").write_text(json.dumps(_finished_job(10007).to_dict()))
    (qdir / "serial").write_text("12\n")
    queue = JobQueue(qdir)
    queue.load()
    assert queue.submit([{"OP_ID": "OP_TEST_DELAY", "duration": 0}], 0).id == 10008
    (qdir / "serial").write_text("not a number\n")                # corrupt serial file
    assert queue.submit([{"OP_ID": "OP_TEST_DELAY", "duration": 0}], 0).id == 10009


def test_one_bad_job_does_not_stop_autoarchive(tmp_path):
    qdir = tmp_path / "queue"
    queue = JobQueue(qdir)
    for job_id in (1, 2, 3):
        queue.jobs[job_id] = _finished_job(job_id)
        queue.update(queue.jobs[job_id])
    (qdir / "job-1").unlink()                                     # lost behind our back
    assert queue.autoarchive(-1, 30) == (3, 0)
    for job_id in (1, 2, 3):
        archived = json.loads((qdir / "archive" / "0" / f"job-{job_id}").read_text())
        assert archived["ops"][0]["status"] == SUCCESS
    assert queue.get(1).status == SUCCESS


def test_temp_files_of_killed_writers_are_removed_at_start(cluster):
    config = settings.paths().config_file
    job = cluster.run("OP_TEST_DELAY", duration=0)
    qdir = cluster.master.queue.dir
    cluster.master.stop()
    stale = [config.parent / ".config.data.k1ll3d", config.parent / "config.data.prev.tmp",
             config.parent / ".ssconf_node_list.a1b2c3",
             qdir / f".job-{job.id}.x8y7z6", qdir / ".job-2.1234.5678", qdir / ".serial.abcdef",
             qdir / "archive" / "0" / ".job-3.q1w2e3"]
    (qdir / "archive" / "0").mkdir(exist_ok=True)
    for path in stale:
        path.write_bytes(b"half written")
    before = config.read_bytes()
    ConfigStore.load(config)
    JobQueue(qdir).load()
    assert [path for path in stale if path.exists()] == []
    assert config.read_bytes() == before
    assert json.loads((qdir / f"job-{job.id}").read_text())["id"] == job.id
    assert not (qdir / "quarantine").exists()
