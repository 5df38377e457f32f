"""storage.drbd / drbd_status: /proc/drbd 8.4 and drbdsetup show parsed from sample text in
the documented formats, exact drbdsetup/drbdmeta argv, idempotency, check mode, bad input."""

from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils.storage import drbd
from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import (
    CommandResult,
    StorageError,
)
from ansible_collections.gnt.cluster.plugins.module_utils.storage.drbd_status import (
    parse_proc_drbd,
    parse_show,
    read_proc_drbd,
)

# /proc/drbd of a DRBD 8.4 kernel module: version line, build line, per minor a state line
# and a counters line; minor 3 in a resync with progress and finish lines.
PROC_84 = """\
version: 8.4.11 (api:1/proto:86-101)
srcversion: 4B1A9C2D3E4F5A6B7C8D9E0
 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----
    ns:2097152 nr:0 dw:16384 dr:2101248 al:12 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0
 1: cs:WFConnection ro:Secondary/Unknown ds:UpToDate/DUnknown C r-----
    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:524288
 2: cs:StandAlone ro:Secondary/Unknown ds:Diskless/DUnknown   r-----
    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:d oos:0
 3: cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate C r-----
    ns:0 nr:655360 dw:655360 dr:0 al:0 bm:40 lo:2 pe:6 ua:1 ap:0 ep:1 wo:f oos:393216
\t[===========>........] sync'ed: 62.6% (393216/1048576)K
\tfinish: 0:01:04 speed: 6,144 (10,240) want: 61,440 K/sec
 4: cs:WFReportParams ro:Secondary/Unknown ds:Inconsistent/DUnknown C r-----
    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:1048576
"""

# drbdsetup show 7 as drbdsetup-84 prints it (tabs between keys and values; the layout of a
# real device in a lab guest, Debian 12, drbd 8.4.11), with external meta-data.
SHOW_7 = (
    "resource resource7 {\n"
    "    options {\n"
    "    }\n"
    "    net {\n"
    "        cram-hmac-alg   \t\"md5\";\n"
    "        shared-secret   \t\"s3cr3t-of-the-cluster\";\n"
    "        after-sb-0pri   \tdiscard-zero-changes;\n"
    "        after-sb-1pri   \tconsensus;\n"
    "    }\n"
    "    _remote_host {\n"
    "        address\t\t\tipv4 198.18.0.12:11007;\n"
    "    }\n"
    "    _this_host {\n"
    "        address\t\t\tipv4 198.18.0.11:11007;\n"
    "        volume 0 {\n"
    "            device\t\t\tminor 7;\n"
    "            disk\t\t\t\"/dev/xenvg/abc.disk0_data\";\n"
    "            meta-disk\t\t\t\"/dev/xenvg/abc.disk0_meta\";\n"
    "            disk {\n"
    "                size            \t2097152s; # bytes\n"
    "                resync-rate     \t61440k; # bytes/second\n"
    "                c-plan-ahead    \t0; # 1/10 seconds\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "}\n"
)
PROC_7 = """\
version: 8.4.11 (api:1/proto:86-101)
 7: cs:Connected ro:Secondary/Secondary ds:UpToDate/UpToDate C r-----
    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0
"""
EMPTY_PROC = "version: 8.4.11 (api:1/proto:86-101)\nsrcversion: 4B1A9C2D3E4F5A6B7C8D9E0\n"
SECRET = "s3cr3t-of-the-cluster"
NET = drbd.DrbdNet(local_ip="198.18.0.11", local_port=11007, peer_ip="198.18.0.12",
                   peer_port=11007, secret=SECRET)
SPEC = drbd.DrbdSpec(minor=7, data_dev="/dev/xenvg/abc.disk0_data",
                     meta_dev="/dev/xenvg/abc.disk0_meta", size_mib=1024, net=NET)
READS = ("show", "get-gi", "--getsize64")


def backend(runner, proc_text):
    return drbd.DrbdBackend(runner, proc_reader=lambda: parse_proc_drbd(proc_text),
                            module_loaded=lambda: True, helper_file="/nonexistent/helper")


def changing(calls):
    return [argv for argv in calls if not any(word in argv for word in READS)]


def test_proc_drbd_parsed():
    proc = parse_proc_drbd(PROC_84)
    assert (proc.version, proc.api, proc.proto) == ("8.4.11", 1, "86-101")
    assert sorted(proc.minors) == [0, 1, 2, 3, 4]
    ok = proc.status(0).as_dict()
    assert ok == {**ok, "connection": "Connected", "role": "Primary", "peer_role": "Secondary",
                  "disk": "UpToDate", "peer_disk": "UpToDate", "protocol": "C",
                  "primary": True, "connected": True, "degraded": False, "local_disk": "ok",
                  "sync_percent": None, "net_sent_kib": 2097152, "disk_read_kib": 2101248,
                  "out_of_sync_kib": 0, "write_ordering": "f", "activity_log_updates": 12}
    waiting = proc.status(1)
    assert waiting.degraded and not waiting.connected and waiting.local_disk == "ok"
    diskless = proc.status(2)
    assert diskless.diskless and diskless.local_disk == "faulty" and diskless.protocol == ""
    sync = proc.status(3).as_dict()
    assert sync == {**sync, "in_resync": True, "local_disk": "sync", "sync_percent": 62.6,
                    "sync_eta_seconds": 64, "sync_speed_kib": 6144, "sync_left_kib": 393216,
                    "sync_total_kib": 1048576, "degraded": True, "peer_pending": 6}
    starting = proc.status(4).as_dict()
    assert starting["in_resync"] and starting["sync_percent"] == 0.0
    assert starting["sync_eta_seconds"] is None
    assert proc.status(9).configured is False


def test_proc_drbd_unconfigured_and_bad_lines():
    proc = parse_proc_drbd(EMPTY_PROC + " 5: cs:Unconfigured\n")
    assert proc.status(5).configured is False
    with pytest.raises(StorageError, match="drbd6: cannot parse /proc/drbd line"):
        parse_proc_drbd(EMPTY_PROC + " 6: cs:Connected garbage\n")


def test_read_proc_drbd_errors(tmp_path):
    with pytest.raises(StorageError, match="is the drbd kernel module loaded"):
        read_proc_drbd(str(tmp_path / "none"))
    nine = tmp_path / "drbd9"
    nine.write_text("version: 9.2.4 (api:2/proto:86-122)\n")
    with pytest.raises(StorageError, match="DRBD kernel module 9.2.4 loaded, 8.4 needed"):
        read_proc_drbd(str(nine))
    good = tmp_path / "drbd"
    good.write_text(PROC_84)
    assert read_proc_drbd(str(good)).status(3).sync_percent == 62.6


def test_show_parsed():
    conf = parse_show(SHOW_7)
    assert conf == {**conf, "data_dev": "/dev/xenvg/abc.disk0_data",
                    "meta_dev": "/dev/xenvg/abc.disk0_meta",
                    "local_address": ("198.18.0.11", 11007),
                    "peer_address": ("198.18.0.12", 11007), "allow_two_primaries": False,
                    "protocol": "C", "cram_hmac_alg": "md5", "has_secret": True}
    six = parse_show('resource r { net { allow-two-primaries yes; protocol A; }\n'
                     '_remote_host {\naddress ipv6 [fd00::2]:11000;\n}\n'
                     '_this_host {\naddress ipv6 [fd00::1]:11000;\n}\n}\n'
                     .replace("{ ", "{\n").replace("; ", ";\n").replace("; }", ";\n}"))
    assert six["peer_address"] == ("fd00::2", 11000) and six["data_dev"] is None
    assert parse_show("") == {**parse_show(""), "data_dev": None, "local_address": None}


def test_assemble_from_nothing_exact_argv(fake_runner):
    dev = backend(fake_runner, EMPTY_PROC)
    result = dev.assemble(SPEC, role="primary", force_primary=True)
    assert result.actions == [
        "created resource resource7", "attached disk /dev/xenvg/abc.disk0_data "
        "(meta /dev/xenvg/abc.disk0_meta)", "connected 198.18.0.11:11007 to 198.18.0.12:11007",
        "made primary (forced)"]
    assert changing(fake_runner.calls) == [
        ["drbdsetup", "new-resource", "resource7"],
        ["drbdsetup", "new-minor", "resource7", "7", "0"],
        ["drbdmeta", "/dev/drbd7", "v08", "/dev/xenvg/abc.disk0_meta", "flex-external",
         "apply-al"],
        ["drbdsetup", "attach", "7", "/dev/xenvg/abc.disk0_data", "/dev/xenvg/abc.disk0_meta",
         "flexible", "--on-io-error=detach", "--size", "1024m", "--c-plan-ahead", "0",
         "--resync-rate", "61440k"],
        ["drbdsetup", "connect", "resource7", "ipv4:198.18.0.11:11007",
         "ipv4:198.18.0.12:11007", "--protocol", "C", "--after-sb-0pri",
         "discard-zero-changes", "--after-sb-1pri", "consensus", "--cram-hmac-alg", "md5",
         "--shared-secret", SECRET],
        ["drbdsetup", "primary", "7", "--force"]]
    assert SECRET not in repr(result.as_dict())


def test_assemble_in_place_is_a_no_op(fake_runner):
    fake_runner.on(["drbdsetup", "show"], SHOW_7)
    dev = backend(fake_runner, PROC_7)
    result = dev.assemble(SPEC, role="secondary")
    assert not result.changed and changing(fake_runner.calls) == []
    state = result.state.as_dict()
    assert state == {**state, "exists": True, "attached": True, "open": False,
                     "path": "/dev/drbd7", "connection": "Connected",
                     "peer_address": "198.18.0.12:11007", "dual_primary": False}
    assert SECRET not in repr(state)


def test_dual_primary_switched_live(fake_runner):
    fake_runner.on(["drbdsetup", "show"], SHOW_7)
    dual = drbd.DrbdSpec(minor=7, net=drbd.DrbdNet(**{**NET.__dict__, "dual_primary": True}))
    result = backend(fake_runner, PROC_7).assemble(dual, role="primary")
    assert result.actions == ["allowed dual-primary", "made primary"]
    assert changing(fake_runner.calls) == [
        ["drbdsetup", "net-options", "ipv4:198.18.0.11:11007", "ipv4:198.18.0.12:11007",
         "--allow-two-primaries=yes"],
        ["drbdsetup", "primary", "7"]]
    fake_runner.calls.clear()
    fake_runner.on(["drbdsetup", "show"], SHOW_7.replace("consensus;", "consensus;\n"
                                                         "allow-two-primaries\tyes;"))
    backend(fake_runner, PROC_7).assemble(drbd.DrbdSpec(minor=7, net=NET))
    assert changing(fake_runner.calls)[0][-1] == "--allow-two-primaries=no"


def test_new_peer_reconnects_and_other_disk_refused(fake_runner):
    fake_runner.on(["drbdsetup", "show"], SHOW_7)
    moved = drbd.DrbdNet(**{**NET.__dict__, "peer_ip": "198.18.0.13"})
    backend(fake_runner, PROC_7).assemble(drbd.DrbdSpec(minor=7, net=moved))
    calls = changing(fake_runner.calls)
    assert calls[0] == ["drbdsetup", "disconnect", "ipv4:198.18.0.11:11007",
                        "ipv4:198.18.0.12:11007"]
    assert calls[1][:5] == ["drbdsetup", "connect", "resource7", "ipv4:198.18.0.11:11007",
                            "ipv4:198.18.0.13:11007"]
    other = drbd.DrbdSpec(minor=7, data_dev="/dev/xenvg/x_data", meta_dev="/dev/xenvg/x_meta")
    with pytest.raises(StorageError, match="drbd7 has local disk /dev/xenvg/abc.disk0_data"):
        backend(fake_runner, PROC_7).assemble(other)


def test_check_mode_runs_nothing_that_changes(fake_runner):
    fake_runner.on(["blockdev"], "134217728\n").on(["drbdmeta", "/dev/drbd7"], 255)
    dev = backend(fake_runner, EMPTY_PROC)
    assert dev.create_metadata(SPEC, check_mode=True).changed
    result = dev.assemble(SPEC, role="primary", force_primary=True, check_mode=True)
    assert len(result.actions) == 4 and result.state.exists and result.state.is_open
    assert not dev.down(7, check_mode=True).changed  # not configured
    fake_runner.on(["drbdsetup", "show"], SHOW_7)
    up = backend(fake_runner, PROC_7)
    assert up.down(7, check_mode=True).state.exists is False
    assert up.disconnect(7, check_mode=True).changed
    assert up.detach_disk(7, check_mode=True).changed
    assert up.resize(7, check_mode=True).changed
    assert changing(fake_runner.calls) == []


def test_metadata_created_once_and_size_checked(fake_runner):
    fake_runner.on(["blockdev"], "134217728\n").on(["drbdmeta", "/dev/drbd7"], 255)
    dev = backend(fake_runner, EMPTY_PROC)
    assert dev.create_metadata(SPEC).actions == ["created meta-data on /dev/xenvg/abc.disk0_meta"]
    assert ["blockdev", "--getsize64", "/dev/xenvg/abc.disk0_meta"] in fake_runner.calls
    assert ["drbdmeta", "/dev/drbd7", "v08", "/dev/xenvg/abc.disk0_meta", "flex-external",
            "get-gi"] in fake_runner.calls
    assert changing(fake_runner.calls) == [
        ["drbdmeta", "--force", "/dev/drbd7", "v08", "/dev/xenvg/abc.disk0_meta",
         "flex-external", "create-md"]]
    fake_runner.on(["drbdmeta", "/dev/drbd7"], "0:0:0:0:0:0\n")
    assert not dev.create_metadata(SPEC).changed
    fake_runner.on(["blockdev"], "67108864\n")
    with pytest.raises(StorageError, match=r"drbd7: meta device /dev/xenvg/abc.disk0_meta has "
                                           r"67108864 bytes, 128 MiB needed"):
        dev.create_metadata(SPEC)


def test_teardown_argv(fake_runner):
    fake_runner.on(["drbdsetup", "show"], SHOW_7)
    dev = backend(fake_runner, PROC_7)
    dev.disconnect(7)
    dev.detach_disk(7)
    dev.resize(7, 2048)
    dev.detach("/dev/drbd7")
    assert changing(fake_runner.calls) == [
        ["drbdsetup", "disconnect", "ipv4:198.18.0.11:11007", "ipv4:198.18.0.12:11007"],
        ["drbdsetup", "detach", "7"],
        ["drbdsetup", "resize", "7", "--size", "2048m"],
        ["drbdsetup", "down", "resource7"]]


TRANSIENT = CommandResult(11, "", "resource7: State change failed: (-18) In transient state,"
                                  " retry after next state change\nadditional info from kernel:"
                                  "\nfailed to disconnect\n")


class FakeTime:
    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _timed_backend(fake_runner, proc) -> tuple[drbd.DrbdBackend, FakeTime]:
    dev, fake = backend(fake_runner, proc), FakeTime()
    dev.sleep, dev.clock = fake.sleep, lambda: fake.now
    return dev, fake


def test_down_retried_while_drbd_is_in_a_transient_state(fake_runner):
    """The peer going down at the same moment: DRBD refuses with (-18) and says to retry
    after the next state change; the down is retried and succeeds."""
    fake_runner.on(["drbdsetup", "down"], TRANSIENT, TRANSIENT, 0)
    dev, fake = _timed_backend(fake_runner, PROC_7)
    assert dev.down(7).actions == ["shut down"]
    assert changing(fake_runner.calls) == [["drbdsetup", "down", "resource7"]] * 3
    assert fake.sleeps == [0.1, 0.2]


def test_down_gives_up_on_a_lasting_transient_state(fake_runner):
    fake_runner.on(["drbdsetup", "down"], TRANSIENT)
    dev, fake = _timed_backend(fake_runner, PROC_7)
    with pytest.raises(StorageError, match=r"drbd7: drbdsetup down failed \(exit 11\): .*"
                                           r"In transient state.*\[step: shut down\]"):
        dev.down(7)
    assert drbd.DOWN_RETRY_S <= fake.now < drbd.DOWN_RETRY_S + 1.0
    assert max(fake.sleeps) == 1.0


def test_down_not_retried_on_other_errors(fake_runner):
    fake_runner.on(["drbdsetup", "down"],
                   CommandResult(11, "", "resource7: State change failed: (-12) Device is held"
                                         " open by someone\n"))
    dev, fake = _timed_backend(fake_runner, PROC_7)
    with pytest.raises(StorageError, match=r"held open by someone.*\[step: shut down\]"):
        dev.down(7)
    assert len(changing(fake_runner.calls)) == 1 and fake.sleeps == []


def test_failure_names_device_and_steps_done(fake_runner):
    fake_runner.on(["drbdsetup", "connect"],
                   CommandResult(10, "", "resource7: Failure: (102) Local address(port) "
                                         "already in use.\n"))
    with pytest.raises(StorageError, match=r"drbd7: drbdsetup connect failed \(exit 10\): .*"
                                           r"already in use.*\[step: connected.*already done: created resource"):
        backend(fake_runner, EMPTY_PROC).assemble(SPEC)


def test_ipv6_endpoints():
    net = drbd.DrbdNet(local_ip="fd00::1", local_port=11000, peer_ip="fd00::2",
                       peer_port=11001, secret="x")
    assert net.endpoints(1) == ["ipv6:[fd00::1]:11000", "ipv6:[fd00::2]:11001"]


@pytest.mark.parametrize("spec, cause", [
    (drbd.DrbdSpec(minor=256), "invalid DRBD minor 256"),
    (drbd.DrbdSpec(minor=-1), "invalid DRBD minor"),
    (drbd.DrbdSpec(minor=1, data_dev="/dev/x"), "data and meta devices go together"),
    (drbd.DrbdSpec(minor=1, data_dev="-x", meta_dev="/dev/m"), "invalid data device '-x'"),
    (drbd.DrbdSpec(minor=1, data_dev="/dev/../etc/passwd", meta_dev="/dev/m"),
     "invalid data device"),
    (drbd.DrbdSpec(minor=1, net=drbd.DrbdNet("198.18.0.1", 11000, "fd00::2", 11000, "s")),
     "different address families"),
    (drbd.DrbdSpec(minor=1, net=drbd.DrbdNet("198.18.0.1", 11000, "nohost", 11000, "s")),
     "invalid address"),
    (drbd.DrbdSpec(minor=1, net=drbd.DrbdNet("198.18.0.1", 0, "198.18.0.2", 11000, "s")),
     "invalid local port 0"),
    (drbd.DrbdSpec(minor=1, net=drbd.DrbdNet("198.18.0.1", 1, "198.18.0.2", 1, "a b")),
     "shared secret must be"),
    (drbd.DrbdSpec(minor=1, net=drbd.DrbdNet("198.18.0.1", 1, "198.18.0.2", 1, "s", "crc")),
     "unknown cram-hmac-alg 'crc'"),
])
def test_bad_specs_refused_before_any_command(fake_runner, spec, cause):
    with pytest.raises(StorageError, match=cause):
        backend(fake_runner, EMPTY_PROC).assemble(spec)
    assert fake_runner.calls == []


def test_parse_device_and_verify(fake_runner):
    assert drbd.parse_device("/dev/drbd12") == 12 and drbd.parse_device(3) == 3
    with pytest.raises(StorageError, match="invalid DRBD device"):
        drbd.parse_device("/dev/sda")
    assert backend(fake_runner, PROC_84).verify() == []

    def broken():
        raise StorageError("cannot read /proc/drbd")

    assert drbd.DrbdBackend(fake_runner, proc_reader=broken,
                            module_loaded=lambda: True).verify() == ["cannot read /proc/drbd"]
    assert drbd.DrbdBackend(fake_runner, module_loaded=lambda: False).verify() == [
        "the drbd kernel module is not loaded"]


def test_module_loaded_before_assembly(fake_runner):
    loaded = []
    dev = drbd.DrbdBackend(fake_runner, proc_reader=lambda: parse_proc_drbd(EMPTY_PROC),
                           module_loaded=lambda: bool(loaded))
    assert dev.status(7).configured is False  # not loaded: nothing configured, no /proc read
    checked = dev.assemble(drbd.DrbdSpec(minor=7), check_mode=True)
    assert checked.actions == ["loaded the drbd kernel module", "created resource resource7"]
    assert fake_runner.calls == []
    fake_runner.on(["modprobe"], CommandResult(0, "", ""))
    dev.assemble(drbd.DrbdSpec(minor=7), usermode_helper="/usr/lib/gnt/drbd-helper")
    assert fake_runner.calls[0] == ["modprobe", "drbd", "minor_count=256",
                                    "usermode_helper=/usr/lib/gnt/drbd-helper"]
    with pytest.raises(StorageError, match="invalid DRBD usermode helper"):
        dev.assemble(drbd.DrbdSpec(minor=7), usermode_helper="true; reboot")


def test_usermode_helper_of_a_loaded_module_set(fake_runner, tmp_path):
    helper = tmp_path / "usermode_helper"
    helper.write_text("/sbin/drbdadm\n")
    dev = drbd.DrbdBackend(fake_runner, proc_reader=lambda: parse_proc_drbd(EMPTY_PROC),
                           module_loaded=lambda: True, helper_file=str(helper))
    checked = dev.assemble(drbd.DrbdSpec(minor=7), check_mode=True)
    assert checked.actions[0] == "set the drbd usermode helper to /bin/true (was /sbin/drbdadm)"
    assert helper.read_text() == "/sbin/drbdadm\n"
    dev.assemble(drbd.DrbdSpec(minor=7))
    assert helper.read_text() == "/bin/true"
    fake_runner.calls.clear()
    helper.write_text("/bin/true\n")
    assert dev.assemble(drbd.DrbdSpec(minor=7)).actions == ["created resource resource7"]


DISKLESS_7 = """\
version: 8.4.11 (api:1/proto:86-101)
 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----
 7: cs:Connected ro:Primary/Secondary ds:Diskless/UpToDate C r-----
"""


def test_metadata_of_a_replaced_disk_goes_through_an_unused_minor(fake_runner):
    """A configured minor without its disk (replace-disks on the primary): drbdmeta works for
    the lowest minor not configured (1 here: 0 and 7 are), as Ganeti does; with the disk
    attached it is refused."""
    fake_runner.on(["blockdev"], "134217728\n").on(["drbdmeta", "/dev/drbd1"], 255)
    fake_runner.on(["drbdsetup", "show"], SHOW_7.replace("disk", "nodisk"))
    dev = backend(fake_runner, DISKLESS_7)
    assert dev.create_metadata(SPEC).changed
    assert changing(fake_runner.calls) == [
        ["drbdmeta", "--force", "/dev/drbd1", "v08", "/dev/xenvg/abc.disk0_meta",
         "flex-external", "create-md"]]
    with pytest.raises(StorageError, match="in use with its disk attached"):
        backend(fake_runner, PROC_7).create_metadata(SPEC)


def test_metadata_of_an_end_attached_to_these_volumes_is_left_alone(fake_runner):
    """The primary's end when replace-disks -n connects a new secondary: attached to the
    very volumes asked for, its meta-data is in use, so there is nothing to create (and
    nothing may be written); attached to other volumes it is still refused."""
    fake_runner.on(["blockdev"], "134217728\n").on(["drbdsetup", "show"], SHOW_7)
    result = backend(fake_runner, PROC_7).create_metadata(SPEC)
    assert not result.changed and result.actions == []
    assert not [call for call in fake_runner.calls if call[0] == "drbdmeta"]
    other = dataclasses.replace(SPEC, meta_dev="/dev/xenvg/other.disk0_meta")
    with pytest.raises(StorageError, match="in use with its disk attached"):
        backend(fake_runner, PROC_7).create_metadata(other)


def _proc_sequence(lines):
    """A proc reader answering one minor-0 state line per call (the last one repeats)."""
    texts = iter(lines)
    last = []

    def reader():
        line = next(texts, None)
        if line is not None:
            last[:] = [line]
        return parse_proc_drbd("version: 8.4.11 (api:1/proto:86-101)\n" + last[0] + "\n")
    return reader


class _Clock:
    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


SYNCING = " 0: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----"
SYNCED = " 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----"
WAITING = " 0: cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown C r-----"


def _waiter(lines):
    clock = _Clock()
    dev = drbd.DrbdBackend(lambda argv: CommandResult(0, "", ""),
                           proc_reader=_proc_sequence(lines), module_loaded=lambda: True)
    return dev, clock


def test_wait_for_sync_polls_in_process_until_both_disks_are_up_to_date():
    dev, clock = _waiter([WAITING, SYNCING, SYNCING, SYNCED])
    status = dev.wait_for_sync(0, timeout=60, sleep=clock.sleep, clock=lambda: clock.now)
    assert status.disk_states == ("UpToDate", "UpToDate")
    assert clock.sleeps == [0.5, 0.5, 0.5]


def test_wait_for_sync_gives_up_on_a_degraded_device_that_does_not_resync():
    dev, clock = _waiter([SYNCING, WAITING])
    with pytest.raises(StorageError, match="drbd0 is degraded and not resyncing for 60 s:"
                                           " connection WFConnection, disk UpToDate, peer"
                                           " disk DUnknown"):
        dev.wait_for_sync(0, timeout=3600, sleep=clock.sleep, clock=lambda: clock.now)
    assert 60 <= clock.now <= 61


def test_wait_for_sync_timeout_and_unconfigured_minor():
    dev, clock = _waiter([" 0: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C"
                          " r-----\n\t[==>.................] sync'ed: 12.5% (896/1024)M"])
    with pytest.raises(StorageError, match=r"drbd0: the resync did not end within 5 s"
                                           r" \(12.5% done\)"):
        dev.wait_for_sync(0, timeout=5, sleep=clock.sleep, clock=lambda: clock.now)
    dev, clock = _waiter([" 0: cs:Unconfigured"])
    with pytest.raises(StorageError, match="drbd0 is not configured"):
        dev.wait_for_sync(0, timeout=5, sleep=clock.sleep, clock=lambda: clock.now)
