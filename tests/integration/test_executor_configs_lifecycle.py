"""The same instance life cycle (add with OS install and start, hard stop, start, hard reboot,
remove) on a real cluster in each executor configuration: warm worker + warm module interpreter
(the default), plain ansible-runner runs + warm module interpreter, and plain ansible-runner
with a fresh Python per module (Ansible as it comes). Every command's exit code, output and the
instance's state after it are the same in all three (issue 11)."""

from __future__ import annotations

import re

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration

INST = "vm1.modes.example"
CONFIGS = (("warm", "warm"), ("runner", "warm"), ("runner", "fresh"))
STEPS = (
    ("gnt-instance", "add", "-o", "tinylinux", "-t", "file", "--disk", "0:size=32M",
     "-B", "memory=128M", INST),
    ("gnt-instance", "shutdown", "--timeout=0", INST),
    ("gnt-instance", "startup", INST),
    ("gnt-instance", "reboot", "--type=hard", INST),
    ("gnt-instance", "shutdown", "--timeout=0", INST),
    ("gnt-instance", "remove", "-f", INST),
)
# Ganeti's feedback lines start with a time stamp; job ids differ from run to run
STAMP = re.compile(r"^\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4} ", re.MULTILINE)


def _transcript(tmp_path, monkeypatch, executor: str, interpreter: str) -> list[tuple]:
    monkeypatch.setenv("GNT_ANSIBLE_EXECUTOR", executor)  # the daemon inherits them
    monkeypatch.setenv("GNT_MODULE_INTERPRETER", interpreter)
    gnt = make_cluster(tmp_path / f"{executor}-{interpreter}", "cluster.modes.example")
    seen = []
    try:
        for step in STEPS:
            proc = gnt.run(*step, check=False)
            state = gnt.run("gnt-instance", "list", "--no-headers", "-o",
                            "name,admin_state,oper_state,status").stdout.split()
            seen.append((step[1], proc.returncode, STAMP.sub("", proc.stdout),
                         STAMP.sub("", proc.stderr), state))
    finally:
        gnt.run("gnt-instance", "remove", "-f", INST, check=False)
        destroy_cluster(gnt)
    return seen


def test_every_configuration_gives_the_same_life_cycle(tmp_path, monkeypatch):
    transcripts = {config: _transcript(tmp_path, monkeypatch, *config) for config in CONFIGS}
    default = transcripts[CONFIGS[0]]
    assert [rc for _step, rc, *_rest in default] == [0] * len(STEPS), default
    assert default[0][4] == [INST, "up", "Y", "running"]
    assert default[1][4] == [INST, "down", "N", "ADMIN_down"]
    assert default[-1][4] == []
    for config, transcript in transcripts.items():
        assert transcript == default, config
