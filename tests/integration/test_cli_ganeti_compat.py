"""Ganeti's exit codes, messages and layouts through the real gnt-* commands and daemon
(issue 10, section 3): unknown list fields, syntax errors, confirmations without a terminal,
gnt-job info, gnt-backup list, gnt-cluster version, console of a stopped instance."""

from __future__ import annotations

import subprocess

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration
INST = "vm1.compat.example"


@pytest.fixture(scope="module")
def gnt(tmp_path_factory):
    gnt = make_cluster(tmp_path_factory.mktemp("compat"), "cluster.compat.example")
    gnt.run("gnt-instance", "add", "-o", "blank", "-t", "file", "--disk", "0:size=8M",
            "--no-start", INST)
    yield gnt
    destroy_cluster(gnt)


@pytest.mark.parametrize("argv", [
    ["gnt-instance", "list", "-o", "name,bogus"],
    ["gnt-node", "list", "-o", "name,bogus"],
    ["gnt-group", "list", "-o", "name,bogus"],
    ["gnt-job", "list", "-o", "id,bogus"],
    ["gnt-backup", "list", "-o", "node,bogus"],
])
def test_unknown_field_warns_shows_table_exits_14(gnt, argv):
    before = gnt.config_file.read_bytes()
    proc = gnt.run(*argv, check=False)
    assert proc.returncode == 14, proc.stdout + proc.stderr
    assert proc.stderr == "Warning: Queried for unknown fields bogus\n"
    lines = proc.stdout.splitlines()
    assert lines[0].split()[-1] == "bogus"
    assert all(line.split()[-1] == "??" for line in lines[1:])
    if argv[0] == "gnt-instance":
        assert lines[1].split() == [INST, "??"]
    assert gnt.config_file.read_bytes() == before


def test_syntax_errors(gnt):
    proc = gnt.run("gnt-instance", "list", "--bogus", check=False)
    assert proc.returncode == 2
    assert proc.stderr.endswith("gnt-instance: error: no such option: --bogus\n")
    assert proc.stderr.startswith("Usage\n=====\n  gnt-instance list [options]")
    proc = gnt.run("gnt-instance", "remove", check=False)
    assert (proc.returncode, proc.stderr) == (1, "Error: Command remove expects 1 argument(s)\n")
    proc = gnt.run("gnt-instance", "frobnicate", check=False)
    assert proc.returncode == 1 and proc.stdout.startswith("Usage: gnt-instance {command}")


def test_remove_without_terminal_refuses(gnt):
    before = gnt.config_file.read_bytes()
    proc = subprocess.run(["gnt-instance", "remove", INST], env=gnt.env, input="y\n",
                          capture_output=True, text=True, timeout=120, check=False,
                          start_new_session=True)  # no controlling terminal; stdin says y
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "--force" in proc.stderr
    assert gnt.config_file.read_bytes() == before


def test_job_info_layout(gnt):
    ids = gnt.run("gnt-job", "list", "--no-headers", "-o", "id,summary").stdout.split("\n")
    job_id = next(line.split()[0] for line in ids if "INSTANCE_CREATE" in line)
    out = gnt.run("gnt-job", "info", job_id).stdout.splitlines()
    assert out[0] == f"- Job ID: {job_id}"
    assert out[1] == "  Status: success"
    assert out[2].startswith("  Received:         ")
    assert out[3].startswith("  Processing start: ") and "(delta " in out[3]
    assert out[4].startswith("  Processing end:   ")
    assert out[5].startswith("  Total processing time: ") and out[5].endswith(" seconds")
    assert out[6] == "  Opcodes: "
    assert out[7] == "    - Opcode: OP_INSTANCE_CREATE"
    assert out[8] == "      Status: success"
    for key in ("      Input fields: ", "      Execution log: "):
        assert key in out
    assert f"        instance_name: {INST}" in out
    assert any(line.startswith("        - Time: ") for line in out)
    missing = gnt.run("gnt-job", "info", "99999").stdout
    assert missing == "- Job ID 99999 not found\n"


def test_backup_list_table(gnt):
    out = gnt.run("gnt-backup", "list").stdout
    assert out.split() == ["Node", "Export"]


def test_cluster_version(gnt):
    lines = gnt.run("gnt-cluster", "version").stdout.splitlines()
    keys = [line.split(": ")[0] for line in lines]
    assert keys == ["Software version", "Internode protocol", "Configuration format",
                    "OS api version", "Export interface", "VCS version"]
    assert lines[2] == f"Configuration format: {gnt.config()['version']}"


def test_console_of_stopped_instance(gnt):
    proc = gnt.run("gnt-instance", "console", INST, check=False)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == ("Failure: command execution error:\n"
                           f"Instance {INST} is not running, can't get console\n")
