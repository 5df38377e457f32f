"""Bad input is refused before it is queued, by the CLI against a real in-process daemon.

The gnt-* commands talk through the real client and socket server to the real handlers of a
one-node cluster; each refusal exits 1 (a prerequisite error, as Ganeti's tools), names the
bad value, queues no job and leaves config.data byte for byte as it was.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gnt.admin import bootstrap
from gnt.cli import cluster as cluster_cli
from gnt.cli import common
from gnt.cli import instance as instance_cli
from gnt.client.connection import Client
from gnt.core import settings
from gnt.daemon.handlers import Handlers
from gnt.daemon.server import MasterServer
from gnt.nodes.recording import RecordingExecutor

NODE = "node1.example.com"


class Cli:
    """Runs gnt-* commands in-process against the cluster's daemon over a real socket."""

    def __init__(self, cluster: Any, capsys: pytest.CaptureFixture, socket_path: Path) -> None:
        self.cluster = cluster
        self.capsys = capsys
        self.socket_path = socket_path

    def __call__(self, module: Any, argv: list[str]) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = common.run(module.build_parser(), argv)
        out, err = self.capsys.readouterr()
        return code, out, err

    def jobs(self) -> list[Any]:
        return list(self.cluster.master.queue.current())


@pytest.fixture
def cli(cluster: Any, capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    sock_dir = Path(tempfile.mkdtemp(prefix="gv", dir="/tmp"))  # short: sun_path is limited
    server = MasterServer(sock_dir / "m", Handlers(cluster.master))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    clients: list[Client] = []

    def get_client() -> Client:
        if not clients:
            clients.append(Client(sock_dir / "m", timeout=30))
        return clients[0]

    def reset_client() -> None:
        while clients:
            clients.pop().close()

    monkeypatch.setattr(common, "get_client", get_client)
    monkeypatch.setattr(common, "reset_client", reset_client)
    yield Cli(cluster, capsys, sock_dir / "m")
    reset_client()
    server.shutdown()
    server.server_close()
    shutil.rmtree(sock_dir, ignore_errors=True)


def _refused(cli: Cli, module: Any, argv: list[str], *needles: str) -> str:
    """Run a command that must be refused: exit 1, ``needles`` in stderr, nothing changed."""
    config = cli.cluster.config_bytes()
    jobs = len(cli.jobs())
    code, _out, err = cli(module, argv)
    assert code == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    assert len(cli.jobs()) == jobs, "a job was queued"
    assert cli.cluster.config_bytes() == config
    return err


def _add(*extra: str, name: str = "inst1") -> list[str]:
    return ["add", "-o", "tinylinux", "-t", "file", "-n", NODE, *extra, name]


# -- names ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["bad name", "bad\nname", "bad\x01name", "tab\tname",
                                  ".dot", "a..b", "x" * 256, "semi;colon"])
def test_instance_name_by_ganeti_rules(cli: Cli, name: str) -> None:
    _refused(cli, instance_cli, _add("-s", "1G", name=name), "instance_name",
             repr(name))


@pytest.mark.parametrize("new_name", ["new name", "new\nname", "a\x7fb"])
def test_rename_target_by_ganeti_rules(cli: Cli, new_name: str) -> None:
    code, _out, err = cli(instance_cli, _add("-s", "1G", "--no-start"))
    assert code == 0, err
    _refused(cli, instance_cli, ["rename", "inst1", new_name], "new_name", repr(new_name))


def test_valid_instance_name_is_accepted(cli: Cli) -> None:
    code, _out, err = cli(instance_cli, _add("-s", "1G", "--no-start", name="web-1.example2"))
    assert code == 0, err
    assert cli.cluster.master.config.data["instances"]


# -- backend parameters --------------------------------------------------------------------

@pytest.mark.parametrize("beparams, needles", [
    ("vcpus=0", ("vcpus", "0", "less than 1")),
    ("vcpus=-2", ("vcpus", "-2")),
    ("memory=0", ("maxmem", "0", "less than 1 MiB")),
    ("maxmem=0,minmem=0", ("0", "less than 1 MiB")),
    ("minmem=512,maxmem=256", ("Minimum memory (512M) is larger than maximum memory (256M)",)),
])
def test_backend_parameters_are_checked(cli: Cli, beparams: str,
                                        needles: tuple[str, ...]) -> None:
    _refused(cli, instance_cli, _add("-s", "1G", "-B", beparams), *needles)


def test_backend_parameters_checked_in_the_opcode(cli: Cli) -> None:
    """The opcode type refuses what a client other than the CLI sends (RAPI, scripts)."""
    config = cli.cluster.config_bytes()
    client = Client(cli.socket_path, timeout=10)
    for beparams, needle in (({"vcpus": 0}, "vcpus"), ({"maxmem": 0}, "maxmem"),
                             ({"minmem": 256, "maxmem": 128}, "Minimum memory")):
        op = {"OP_ID": "OP_INSTANCE_CREATE", "instance_name": "inst9", "os_type": "tinylinux",
              "disk_template": "diskless", "pnode": NODE, "beparams": beparams}
        with pytest.raises(Exception) as err:
            client.call("submit_job", ops=[op])
        assert needle in str(err.value)
    with pytest.raises(Exception) as err:
        client.call("submit_job", ops=[{"OP_ID": "OP_INSTANCE_SET_PARAMS",
                                        "instance_name": "inst9", "beparams": {"vcpus": 0}}])
    assert "vcpus" in str(err.value)
    client.close()
    assert cli.jobs() == []
    assert cli.cluster.config_bytes() == config


# -- MAC prefix ----------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["zz:00:00", "aa:00", "aa:00:00:00", "aa-00-00", "a:0:0",
                                    "{{ 7*7 }}"])
def test_mac_prefix_three_hex_octets(cli: Cli, prefix: str) -> None:
    _refused(cli, cluster_cli, ["modify", "--mac-prefix", prefix], prefix, "MAC address prefix")


def test_mac_prefix_valid_is_accepted(cli: Cli) -> None:
    code, _out, err = cli(cluster_cli, ["modify", "--mac-prefix", "AA:01:02"])
    assert code == 0, err
    assert cli.cluster.master.config.cluster()["mac_prefix"].lower() == "aa:01:02"


# -- sizes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("size", ["9" * 30 + "T", "9" * 500, "1" * 500 + "G", "9" * 4400,
                                  "9" * 500 + "Q"])
def test_sizes_of_any_length_give_a_clear_error(cli: Cli, size: str) -> None:
    err = _refused(cli, instance_cli, _add("--disk", f"0:size={size}"), "invalid size",
                   size[:20])
    assert len(err) < 1000
    _refused(cli, instance_cli, _add("-s", size), "invalid size")
    _refused(cli, instance_cli, _add("-s", "1G", "-B", f"memory={size}"), "invalid size")


def test_largest_size_is_accepted_by_the_parser() -> None:
    from gnt.core.units import MAX_SIZE_MIB, UnitError, parse_size_mib

    assert parse_size_mib("16777216T") == MAX_SIZE_MIB
    with pytest.raises(UnitError):
        parse_size_mib("16777217T")


# -- Ganeti's \, escaping ------------------------------------------------------------------

def test_escaped_comma_in_hypervisor_parameters(cli: Cli) -> None:
    value = r"kvm:kernel_args=console=ttyS0\,115200 ro,root_path=/dev/vda2"
    code, _out, err = cli(cluster_cli, ["modify", "-H", value])
    assert code == 0, err
    hv = cli.cluster.master.config.cluster()["hvparams"]["kvm"]
    assert hv["kernel_args"] == "console=ttyS0,115200 ro"
    assert hv["root_path"] == "/dev/vda2"


def test_escaped_comma_and_backslash_in_os_parameters(cli: Cli) -> None:
    code, _out, err = cli(instance_cli, _add("-s", "1G", "--no-start", "-O",
                                             r"list=a\,b\,c,path=C:\\dir,plain=x"))
    assert code == 0, err
    [inst] = cli.cluster.master.config.data["instances"].values()
    assert inst["osparams"] == {"list": "a,b,c", "path": "C:\\dir", "plain": "x"}


def test_escaped_comma_in_backend_parameters_is_one_value(cli: Cli) -> None:
    # 'vcpus=2\,3' is one value '2,3' (not vcpus=2 plus a key '3'): refused as not an integer
    _refused(cli, instance_cli, _add("-s", "1G", "-B", r"vcpus=2\,3"), "vcpus", "2,3")


# -- GNT_ROOT too long for the master socket -----------------------------------------------

@pytest.fixture
def fresh_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory for GNT_ROOTs; init never runs Ansible or starts a daemon here."""
    base = Path(tempfile.mkdtemp(prefix="gr", dir="/tmp"))
    monkeypatch.setenv("GNT_NODE_NAME", NODE)
    monkeypatch.setenv("GNT_NODE_IP", "198.18.0.11")
    monkeypatch.setattr(bootstrap, "AnsibleExecutor", RecordingExecutor)
    monkeypatch.setattr(bootstrap, "start_daemon", lambda: None)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _listing(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_init_refuses_a_root_too_long_for_the_socket(fresh_root: Path, capsys: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    root = fresh_root / ("r" * (108 - len(str(fresh_root))))
    root.mkdir()
    monkeypatch.setenv("GNT_ROOT", str(root))
    assert len(str(settings.paths().master_socket)) > 107
    code = common.run(cluster_cli.build_parser(), ["init", "cluster.example.com"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert f"GNT_ROOT '{root}' is too long" in err and "UNIX socket" in err
    assert _listing(root) == []  # checked before anything was made


def test_init_accepts_a_root_that_fits(fresh_root: Path, capsys: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    suffix_len = len("/var/run/gnt/master.sock")
    root = fresh_root / ("r" * (107 - suffix_len - len(str(fresh_root)) - 1))
    root.mkdir()
    monkeypatch.setenv("GNT_ROOT", str(root))
    assert len(str(settings.paths().master_socket)) == 107
    code = common.run(cluster_cli.build_parser(), ["init", "cluster.example.com"])
    assert code == 0, capsys.readouterr().err
    assert settings.paths().config_file.exists()


def test_init_refuses_a_bad_mac_prefix(fresh_root: Path, capsys: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    root = fresh_root / "c"
    root.mkdir()
    monkeypatch.setenv("GNT_ROOT", str(root))
    code = common.run(cluster_cli.build_parser(),
                      ["init", "--mac-prefix", "aa:bb:cc:dd", "cluster.example.com"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Invalid MAC address prefix 'aa:bb:cc:dd'" in err
    assert _listing(root) == []


# -- parameter dicts checked in the opcode types (RAPI bodies, scripts) ---------------------

@pytest.mark.parametrize("op, needle", [
    ({"OP_ID": "OP_CLUSTER_SET_PARAMS", "nicparams": {"mode": "weird"}}, "'weird'"),
    ({"OP_ID": "OP_CLUSTER_SET_PARAMS", "ndparams": {"ssh_port": "twenty-two"}},
     "'twenty-two'"),
    ({"OP_ID": "OP_CLUSTER_SET_PARAMS", "hvparams": {"kvm": {"serial_console": "maybe"}}},
     "'maybe'"),
    ({"OP_ID": "OP_CLUSTER_SET_PARAMS", "hvparams": {"xen": {}}}, "'xen'"),
    ({"OP_ID": "OP_CLUSTER_SET_PARAMS", "mac_prefix": "aa:bb"}, "'aa:bb'"),
    ({"OP_ID": "OP_NODE_SET_PARAMS", "node_name": NODE, "ndparams": {"spindle_count": "x"}},
     "'x'"),
    ({"OP_ID": "OP_NODE_ADD", "node_name": "bad name"}, "'bad name'"),
])
def test_parameter_dicts_checked_before_queueing(cli: Cli, op: dict[str, Any],
                                                 needle: str) -> None:
    config = cli.cluster.config_bytes()
    with Client(cli.socket_path, timeout=10) as client, pytest.raises(Exception) as err:
        client.call("submit_job", ops=[op])
    assert needle in str(err.value)
    assert cli.jobs() == []
    assert cli.cluster.config_bytes() == config
