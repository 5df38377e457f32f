"""Disk access modes and compression names: one table each, read by the coordinator and the
node modules alike (issue 10)."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.gnt.cluster.plugins.doc_fragments.disk_transfer import (
    ModuleDocFragment,
)
from ansible_collections.gnt.cluster.plugins.module_utils import (
    compressions,
    disk_stream,
    hvparams,
    instance_dump,
)
from ansible_collections.gnt.cluster.plugins.module_utils.domain_xml import (
    DomainSpecError,
    render_domain_xml,
)
from gnt.cli import _params as cli_params
from gnt.config import exportcfg
from gnt.core.errors import OpPrereqError
from gnt.opcodes import backup, params


def test_compression_names_are_the_node_table():
    names = tuple(disk_stream.COMPRESSION_TOOLS)
    assert params.COMPRESSIONS == names
    assert tuple(instance_dump.COMPRESSIONS) == names
    assert set(compressions.DUMP_SUFFIX) == set(names)
    # the module documentation (YAML, cannot import) lists the same choices
    doc = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)
    assert tuple(doc["options"]["compression"]["choices"]) == names
    for name in names:
        assert params.check_compression(name) == name
    with pytest.raises(OpPrereqError, match="unknown compression 'xz'"):
        params.check_compression("xz")


def test_export_opcode_accepts_exactly_the_table():
    export = next(d for d in backup.DEFS if d.op_id == "OP_BACKUP_EXPORT")
    check = next(p.check for p in export.params if p.name == "compress")
    assert all(check(name) for name in disk_stream.COMPRESSION_TOOLS)
    assert not check("xz")


def test_disk_modes_are_one_table():
    assert params.DISK_MODES == tuple(hvparams.DISK_MODES) == ("rw", "ro")
    assert exportcfg.DISK_MODES is params.DISK_MODES
    assert cli_params.DISK_MODES is params.DISK_MODES
    disks = cli_params.parse_disks(["0:size=1G", "1:size=1G,mode=ro"], None, "file")
    assert [d["mode"] for d in disks] == ["rw", "ro"]
    with pytest.raises(OpPrereqError, match="Invalid disk access mode 'rx' for disk 0"
                                            r" \(use rw or ro\)"):
        cli_params.parse_disks(["0:size=1G,mode=rx"], None, "file")


def test_node_refuses_an_unknown_disk_mode_naming_the_choices():
    spec = {"name": "i1", "beparams": {"maxmem": 64}, "hvparams": {},
            "disks": [{"index": 0, "path": "/d0", "mode": "wo"}]}
    with pytest.raises(DomainSpecError, match="disk 0 has invalid mode 'wo' .valid: rw, ro."):
        render_domain_xml(spec)
    spec["disks"][0]["mode"] = hvparams.DISK_MODE_RO
    assert "<readonly/>" in render_domain_xml(spec)
