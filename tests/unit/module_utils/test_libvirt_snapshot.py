"""libvirt_snapshot: disk parsing, overlay naming, the snapshot/commit decisions, the
snapshot XML and the rewrite of the persistent definition (no libvirt needed); waiting for
and pivoting a block commit against a fake domain; the module's DOCUMENTATION against its
argument_spec."""

from __future__ import annotations

import importlib
import xml.etree.ElementTree as ET

import pytest
import yaml

from ansible_collections.gnt.cluster.plugins.module_utils.domain_xml import (
    METADATA_NS,
    spec_hash_of,
)
from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_domain import DomainError
from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_snapshot import (
    COMMITTED,
    COMMITTED_OFFLINE,
    SnapshotError,
    _commit_online,
    check_suffix,
    disk_targets,
    file_disks,
    plan_commit,
    plan_snapshot,
    restore_definition_xml,
    snapshot_xml,
)

S = ".gnt-snap"

# A running domain's live XML: vda on its overlay, vdb on its base, a cdrom without source,
# a block disk and a file cdrom with a source (both ignored).
LIVE = f"""<domain type='qemu'>
  <name>inst1</name>
  <metadata><gnt:instance xmlns:gnt='{METADATA_NS}'><gnt:spec_hash>h1</gnt:spec_hash>
  </gnt:instance></metadata>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/s/inst1/disk0{S}' index='4'/>
      <backingStore type='file' index='3'>
        <format type='raw'/>
        <source file='/s/inst1/disk0'/>
        <backingStore/>
      </backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/s/inst1/disk1' index='2'/>
      <backingStore/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <disk type='file' device='cdrom'>
      <source file='/iso/x.iso'/>
      <target dev='hdd' bus='ide'/>
    </disk>
    <disk type='block' device='disk'>
      <source dev='/dev/vg/lv'/>
      <target dev='vdc' bus='virtio'/>
    </disk>
  </devices>
</domain>"""


def _disk(target, source, backing=None, fmt="raw"):
    return {"target": target, "source": source, "format": fmt, "backing": backing,
            "backing_format": "raw" if backing else None}


def test_file_disks_only_file_disks_with_a_source():
    assert file_disks(LIVE) == [
        {"target": "vda", "source": f"/s/inst1/disk0{S}", "format": "qcow2",
         "backing": "/s/inst1/disk0", "backing_format": "raw"},
        {"target": "vdb", "source": "/s/inst1/disk1", "format": "raw", "backing": None,
         "backing_format": None},
    ]
    assert disk_targets(LIVE) == ["vda", "vdb", "hdc", "hdd", "vdc"]


@pytest.mark.parametrize("suffix", ["", "/x", "a/b", ".", ".."])
def test_bad_suffix_refused(suffix):
    with pytest.raises(SnapshotError, match="invalid overlay suffix"):
        check_suffix(suffix)
    check_suffix(".snap")


def test_snapshot_error_is_a_domain_error():
    assert issubclass(SnapshotError, DomainError)


def test_plan_snapshot_overlay_names_and_idempotence():
    plan = plan_snapshot("inst1", file_disks(LIVE), S, exists=lambda path: False)
    assert plan == [
        {"target": "vda", "base": "/s/inst1/disk0", "overlay": f"/s/inst1/disk0{S}",
         "take": False},
        {"target": "vdb", "base": "/s/inst1/disk1", "overlay": f"/s/inst1/disk1{S}",
         "take": True},
    ]
    done = [_disk("vda", "/a/d0.x", "/a/d0", "qcow2"), _disk("vdb", "/a/d1.x", None, "qcow2")]
    plan = plan_snapshot("inst1", done, ".x", exists=lambda path: True)
    assert [p["take"] for p in plan] == [False, False]
    assert plan[1]["base"] == "/a/d1" and plan[1]["overlay"] == "/a/d1.x"


def test_plan_snapshot_refuses_a_stale_overlay_file():
    with pytest.raises(SnapshotError) as err:
        plan_snapshot("inst1", [_disk("vdb", "/a/d1")], S,
                      exists=lambda path: path == f"/a/d1{S}")
    msg = str(err.value)
    assert "disk vdb of domain inst1" in msg and f"/a/d1{S} already exists" in msg
    assert "check it and remove it" in msg


def test_foreign_backing_chain_refused():
    disk = _disk("vda", f"/a/d0{S}", backing="/elsewhere/base", fmt="qcow2")
    for call in (lambda: plan_snapshot("inst1", [disk], S, exists=lambda p: False),
                 lambda: plan_commit("inst1", True, [disk], [], S, exists=lambda p: True)):
        with pytest.raises(SnapshotError, match="backing file is /elsewhere/base, not /a/d0"):
            call()


def test_snapshot_xml_external_overlays_and_no_for_the_rest():
    plan = plan_snapshot("inst1", file_disks(LIVE), S, exists=lambda path: False)
    root = ET.fromstring(snapshot_xml([p for p in plan if p["take"]], disk_targets(LIVE)))
    assert root.tag == "domainsnapshot"
    disks = {d.get("name"): d for d in root.findall("disks/disk")}
    assert sorted(disks) == ["hdc", "hdd", "vda", "vdb", "vdc"]
    vdb = disks.pop("vdb")
    assert vdb.get("snapshot") == "external" and vdb.get("type") == "file"
    assert vdb.find("driver").get("type") == "qcow2"
    assert vdb.find("source").get("file") == f"/s/inst1/disk1{S}"
    assert {d.get("snapshot") for d in disks.values()} == {"no"}


def test_plan_commit_running_domain():
    live = file_disks(LIVE)
    plan = plan_commit("inst1", True, live, [], S, exists=lambda path: path.endswith(S)
                       and "disk0" in path)
    assert plan == [{"target": "vda", "base": "/s/inst1/disk0",
                     "overlay": f"/s/inst1/disk0{S}", "action": COMMITTED,
                     "in_definition": True}]
    assert plan_commit("inst1", True, [_disk("vdb", "/a/d1")], [], S,
                       exists=lambda path: False) == []


def test_plan_commit_running_domain_refuses_an_unused_overlay():
    with pytest.raises(SnapshotError) as err:
        plan_commit("inst1", True, [_disk("vdb", "/a/d1")], [], S, exists=lambda path: True)
    msg = str(err.value)
    assert "domain inst1 runs disk vdb on its base /a/d1" in msg and f"/a/d1{S}" in msg
    assert "check it and remove it" in msg


def test_plan_commit_stopped_domain_offline_and_orphans():
    config = [_disk("vda", f"/a/d0{S}", "/a/d0", "qcow2"), _disk("vdb", "/a/d1"),
              _disk("vdc", "/a/d2")]
    plan = plan_commit("inst1", False, [], config, S,
                       exists=lambda path: path in (f"/a/d0{S}", f"/a/d1{S}"))
    assert plan == [
        {"target": "vda", "base": "/a/d0", "overlay": f"/a/d0{S}",
         "action": COMMITTED_OFFLINE, "in_definition": True},
        {"target": "vdb", "base": "/a/d1", "overlay": f"/a/d1{S}",
         "action": COMMITTED_OFFLINE, "in_definition": False},
    ]
    assert plan_commit("inst1", False, [], config[1:], S, exists=lambda path: False) == []


def test_plan_commit_definition_with_missing_overlay():
    with pytest.raises(SnapshotError, match=f"uses the overlay /a/d0{S} for disk vda but that "
                                            "file does not exist"):
        plan_commit("inst1", False, [], [_disk("vda", f"/a/d0{S}", "/a/d0", "qcow2")], S,
                    exists=lambda path: False)


def test_restore_definition_xml_points_back_at_the_raw_base():
    new = restore_definition_xml(LIVE, {f"/s/inst1/disk0{S}": "/s/inst1/disk0"})
    disks = file_disks(new)
    assert disks[0] == {"target": "vda", "source": "/s/inst1/disk0", "format": "raw",
                        "backing": None, "backing_format": None}
    assert disks[1]["source"] == "/s/inst1/disk1"
    root = ET.fromstring(new)
    assert root.find("devices/disk").find("backingStore") is None
    assert root.find("devices/disk/source").get("index") == "4"  # other attributes kept
    assert spec_hash_of(new) == "h1" and "gnt:instance" in new  # metadata and prefix kept
    assert len(root.findall("devices/disk")) == 5
    # nothing to rewrite: the same document
    assert file_disks(restore_definition_xml(LIVE, {})) == file_disks(LIVE)


def test_restore_definition_xml_keeps_a_qcow2_backing_format():
    xml_text = f"""<domain><devices><disk type='file' device='disk'>
      <source file='/a/d0{S}'/><backingStore type='file'><format type='qcow2'/>
      <source file='/a/d0'/></backingStore><target dev='vda'/></disk></devices></domain>"""
    disk = file_disks(restore_definition_xml(xml_text, {f"/a/d0{S}": "/a/d0"}))[0]
    assert disk["source"] == "/a/d0" and disk["format"] == "qcow2" and disk["backing"] is None


def test_module_documentation_matches_argument_spec(monkeypatch):
    mod = importlib.import_module(
        "ansible_collections.gnt.cluster.plugins.modules.domain_disk_snapshot")
    captured = {}

    class Captured(Exception):
        pass

    def fake_module(**kwargs):
        captured.update(kwargs)
        raise Captured()

    monkeypatch.setattr(mod, "AnsibleModule", fake_module)
    with pytest.raises(Captured):
        mod.main()
    assert captured["supports_check_mode"] is True
    doc = yaml.safe_load(mod.DOCUMENTATION)
    assert doc["module"] == "domain_disk_snapshot"
    spec, options = captured["argument_spec"], doc["options"]
    assert sorted(options) == sorted(spec)
    for option, rules in spec.items():
        for key, default in (("type", "str"), ("required", False), ("default", None),
                             ("choices", None), ("elements", None)):
            assert options[option].get(key, default) == rules.get(key, default), option
        assert options[option].get("description"), option
    yaml.safe_load(mod.EXAMPLES)
    returns = yaml.safe_load(mod.RETURN)
    assert {"changed", "disks"} <= set(returns)
    assert set(returns["disks"]["contains"]) == {"target", "base", "overlay", "action"}


class FakeDom:
    """Just enough of virDomain for _commit_online: a block job that becomes ready after
    ``ready_after`` polls; pivot refused as 'not ready' ``refuse_pivot`` times."""

    def __init__(self, libvirt, ready_after=2, refuse_pivot=0, job_type=None):
        self.lv, self.polls, self.ready_after = libvirt, 0, ready_after
        self.refuse_pivot, self.calls = refuse_pivot, []
        self.job = None if job_type is None else {"type": job_type, "cur": 0, "end": 9}
        self.source = f"/a/d0{S}"

    def name(self):
        return "inst1"

    def blockJobInfo(self, target, flags):
        if self.job and self.job["type"] == self.lv.VIR_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT:
            self.polls += 1
            if self.polls > self.ready_after:
                self.job["cur"] = self.job["end"]
        return dict(self.job) if self.job else {}

    def blockCommit(self, target, base, top, bandwidth, flags):
        self.calls.append(("commit", target, flags))
        self.job = {"type": self.lv.VIR_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT, "cur": 0, "end": 9}

    def blockJobAbort(self, target, flags):
        self.calls.append(("abort", target, flags))
        if flags and self.refuse_pivot:
            self.refuse_pivot -= 1
            raise _not_ready(self.lv)
        if flags:
            self.source = "/a/d0"
        self.job = None

    def XMLDesc(self, flags):
        return (f"<domain><devices><disk type='file' device='disk'><source file='{self.source}'/>"
                "<target dev='vda'/></disk></devices></domain>")


def _not_ready(libvirt):
    class NotReady(libvirt.libvirtError):
        def __init__(self):
            # libvirtError's own __init__ wants a live connection; the message is all we need
            Exception.__init__(self, "block job 'vda' not ready for pivot yet")  # pylint: disable=non-parent-init-called

        def get_error_code(self):
            return libvirt.VIR_ERR_BLOCK_COPY_ACTIVE

    return NotReady()


ENTRY = {"target": "vda", "base": "/a/d0", "overlay": f"/a/d0{S}"}


def _clock():
    now = [0.0]

    def clock():
        return now[0]

    def sleep(seconds):
        now[0] += seconds

    return clock, sleep


def test_commit_online_waits_for_ready_and_pivots():
    libvirt = pytest.importorskip("libvirt")
    dom = FakeDom(libvirt, ready_after=3, refuse_pivot=1)
    clock, sleep = _clock()
    _commit_online(dom, "inst1", ENTRY, 10, clock, sleep)
    pivot = libvirt.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT
    assert dom.calls == [("commit", "vda", libvirt.VIR_DOMAIN_BLOCK_COMMIT_ACTIVE),
                         ("abort", "vda", pivot), ("abort", "vda", pivot)]
    assert dom.source == "/a/d0"

    # a commit left running by an interrupted run is reused, not started again
    dom = FakeDom(libvirt, job_type=libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT)
    _commit_online(dom, "inst1", ENTRY, 10, clock, sleep)
    assert dom.calls == [("abort", "vda", pivot)]


def test_commit_online_timeout_cancels_and_names_the_overlay():
    libvirt = pytest.importorskip("libvirt")
    dom = FakeDom(libvirt, ready_after=10**6)
    clock, sleep = _clock()
    with pytest.raises(SnapshotError) as err:
        _commit_online(dom, "inst1", ENTRY, 2, clock, sleep)
    msg = str(err.value)
    assert "disk vda of domain inst1 was not ready within 2 s and was cancelled" in msg
    assert f"the overlay /a/d0{S} is still in use" in msg
    assert dom.calls[-1] == ("abort", "vda", 0) and dom.source == f"/a/d0{S}"

    dom = FakeDom(libvirt, job_type=libvirt.VIR_DOMAIN_BLOCK_JOB_TYPE_COPY)
    with pytest.raises(SnapshotError, match="another block job"):
        _commit_online(dom, "inst1", ENTRY, 2, clock, sleep)
