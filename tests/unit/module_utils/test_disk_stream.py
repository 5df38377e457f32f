"""disk_stream: real chains of local processes and files (no mocks): copies, every
compression both ways, in-place sparse disk writes, failures named by stage, timeouts, no
leaked descriptors, and the remote dd commands run through ``sh -c`` instead of ssh."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils import disk_stream as ds
from ansible_collections.gnt.cluster.plugins.module_utils.compressions import DUMP_SUFFIX

MIB = 1024 * 1024
COMPRESSIONS = ("gzip", "gzip-fast", "gzip-slow", "lzop", "zstd")
MAGIC = {"gzip": b"\x1f\x8b", "gzip-fast": b"\x1f\x8b", "gzip-slow": b"\x1f\x8b",
         "lzop": b"\x89LZO", "zstd": b"\x28\xb5\x2f\xfd"}


def _data(path: Path, size: int = 3 * MIB + 123) -> bytes:
    """Write compressible but not trivial data (random blocks and zero runs) to ``path``."""
    chunk = os.urandom(64 * 1024)
    data = (chunk + bytes(192 * 1024)) * (size // (256 * 1024) + 1)
    data = data[:size]
    path.write_bytes(data)
    return data


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _error(stages: list, timeout: float = 60) -> str:
    with pytest.raises(ds.StreamError) as err:
        ds.run_chain(stages, timeout)
    return str(err.value)


def test_file_to_file_copy(tmp_path: Path) -> None:
    data = _data(tmp_path / "src")
    result = ds.run_chain([ds.FileIn("src", str(tmp_path / "src")),
                           ds.FileOut("dst", str(tmp_path / "dst"))])
    assert result["bytes"] == len(data) and result["output"] == ""
    assert (tmp_path / "dst").read_bytes() == data
    assert (tmp_path / "dst").stat().st_mode & 0o777 == 0o600


def test_process_to_file_and_process_sink_output(tmp_path: Path) -> None:
    data = _data(tmp_path / "src")
    result = ds.run_chain([ds.Proc("cat", ["cat", str(tmp_path / "src")]),
                           ds.FileOut("dst", str(tmp_path / "dst"))])
    assert result["bytes"] == len(data) and (tmp_path / "dst").read_bytes() == data
    counted = ds.run_chain([ds.FileIn("src", str(tmp_path / "src")),
                            ds.Proc("wc", ["wc", "-c"])])
    assert counted["bytes"] is None and counted["output"] == str(len(data))


def test_compression_argv() -> None:
    assert ds.compression_argv("none") is None
    assert ds.compression_argv("gzip-fast") == ["gzip", "-1", "-c"]
    assert ds.compression_argv("zstd", decompress=True) == ["zstd", "-q", "-d", "-c"]
    argv = ds.compression_argv("gzip")
    argv.append("mutated")
    assert ds.compression_argv("gzip") == ["gzip", "-c"]     # a copy, not the table
    with pytest.raises(ds.StreamError, match="unknown compression 'brotli'.*zstd"):
        ds.compression_argv("brotli")
    assert set(DUMP_SUFFIX) == set(ds.COMPRESSION_TOOLS)


@pytest.mark.parametrize("method", COMPRESSIONS)
def test_process_compressor_file_round_trip(tmp_path: Path, method: str) -> None:
    data = _data(tmp_path / "src")
    dump = tmp_path / f"dump{DUMP_SUFFIX[method]}"
    packed = ds.run_chain([ds.Proc("source", ["cat", str(tmp_path / "src")]),
                           ds.Proc(method, ds.compression_argv(method)),
                           ds.FileOut("dump", str(dump))])
    assert packed["bytes"] == dump.stat().st_size < len(data)
    assert dump.read_bytes().startswith(MAGIC[method])
    back = tmp_path / "back"
    unpacked = ds.run_chain([ds.Proc("read dump", ["cat", str(dump)]),
                             ds.Proc(method + " -d", ds.compression_argv(method, True)),
                             ds.FileOut("back", str(back))])
    assert unpacked["bytes"] == len(data) and back.read_bytes() == data


@pytest.mark.parametrize("method", COMPRESSIONS)
def test_file_source_through_filter_to_file(tmp_path: Path, method: str) -> None:
    """FileIn -> (de)compressor -> FileOut (a raw local export, a local dump read back)
    must run the process in between, not copy the file."""
    data = _data(tmp_path / "src")
    dump = tmp_path / "dump"
    ds.run_chain([ds.FileIn("disk", str(tmp_path / "src")),
                  ds.Proc(method, ds.compression_argv(method)),
                  ds.FileOut("dump", str(dump))])
    assert dump.read_bytes().startswith(MAGIC[method])
    assert dump.stat().st_size < len(data)
    back = tmp_path / "back"
    result = ds.run_chain([ds.FileIn("dump", str(dump)),
                           ds.Proc(method + " -d", ds.compression_argv(method, True)),
                           ds.FileOut("back", str(back))])
    assert back.read_bytes() == data and result["bytes"] == len(data)


def test_disk_out_keeps_size_and_is_sparse(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.write_bytes(os.urandom(8 * MIB))               # old contents everywhere
    stream = os.urandom(MIB) + bytes(3 * MIB) + os.urandom(MIB)
    (tmp_path / "stream").write_bytes(stream)
    result = ds.run_chain([ds.Proc("source", ["cat", str(tmp_path / "stream")]),
                           ds.DiskOut("disk 0", str(disk))])
    assert result["bytes"] == len(stream)
    assert disk.stat().st_size == 8 * MIB
    content = disk.read_bytes()
    assert content[:len(stream)] == stream and content[len(stream):] == bytes(3 * MIB)
    # 2 MiB of data were written; the zero ranges are holes
    assert disk.stat().st_blocks * 512 <= 2 * MIB + 256 * 1024


def test_disk_out_from_file_without_processes(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.write_bytes(b"\xff" * (2 * MIB))
    (tmp_path / "src").write_bytes(b"boot" + bytes(MIB))
    result = ds.run_chain([ds.FileIn("dump", str(tmp_path / "src")),
                           ds.DiskOut("disk 0", str(disk))])
    assert result["bytes"] == MIB + 4
    assert disk.read_bytes() == b"boot" + bytes(2 * MIB - 4)


def test_disk_out_refuses_a_longer_stream(tmp_path: Path) -> None:
    disk = tmp_path / "small-disk"
    disk.write_bytes(bytes(MIB))
    (tmp_path / "src").write_bytes(os.urandom(MIB + 1))
    message = _error([ds.Proc("source", ["cat", str(tmp_path / "src")]),
                      ds.DiskOut("disk 1", str(disk))])
    assert "disk 1" in message and str(disk) in message and "larger than the disk" in message
    assert disk.stat().st_size == MIB


def test_failing_source_is_named_with_code_and_stderr(tmp_path: Path) -> None:
    message = _error([ds.Proc("OS export script", ["sh", "-c",
                                                   "echo 'cannot read /dev/vdz' >&2; exit 3"]),
                      ds.Proc("gzip", ["gzip", "-c"]),
                      ds.FileOut("dump", str(tmp_path / "dump"))])
    assert message == "OS export script failed with exit code 3: cannot read /dev/vdz"


def test_stderr_path_keeps_the_log(tmp_path: Path) -> None:
    log = tmp_path / "export.log"
    message = _error([ds.Proc("script", ["sh", "-c", "echo one >&2; echo two >&2; exit 4"],
                              stderr_path=str(log)),
                      ds.FileOut("dump", str(tmp_path / "dump"))])
    assert message == "script failed with exit code 4: one | two"
    assert log.read_text() == "one\ntwo\n"


def test_killed_sink_is_the_failure_not_the_sigpipe_echo() -> None:
    message = _error([ds.Proc("the source", ["yes"]),
                      ds.Proc("the receiver", ["sh", "-c",
                                               "head -c 10 >/dev/null; kill -9 $$"])])
    assert message.startswith("the receiver was killed by SIGKILL")
    assert "the source" not in message and "SIGPIPE" not in message


def test_missing_program_is_named(tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(b"x" * 1000)
    message = _error([ds.Proc("source", ["cat", str(tmp_path / "src")]),
                      ds.Proc("compressor", ["gnt-no-such-compressor", "-c"]),
                      ds.FileOut("dump", str(tmp_path / "dump"))])
    assert message.startswith("compressor: cannot run gnt-no-such-compressor")


def test_timeout_kills_the_chain(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    message = _error([ds.Proc("slow script", ["sh", "-c", f"echo $$ > {pidfile}; exec sleep 60"]),
                      ds.Proc("cat", ["cat"]),
                      ds.FileOut("dump", str(tmp_path / "dump"))], timeout=1)
    assert time.monotonic() - started < 15
    assert "slow script" in message and "time limit" in message and "stopped" in message
    with pytest.raises(ProcessLookupError):
        os.kill(int(pidfile.read_text()), 0)


def _success(tmp_path: Path) -> list:
    _data(tmp_path / "src", MIB)
    return [ds.FileIn("src", str(tmp_path / "src")), ds.Proc("gzip", ["gzip", "-c"]),
            ds.Proc("gunzip", ["gzip", "-d", "-c"]), ds.FileOut("dst", str(tmp_path / "dst"))]


def _failing_source(tmp_path: Path) -> list:
    return [ds.Proc("src", ["sh", "-c", "echo bad >&2; exit 3"]),
            ds.Proc("gzip", ["gzip", "-c"]), ds.FileOut("dst", str(tmp_path / "dst"))]


def _missing_middle(tmp_path: Path) -> list:
    return [ds.Proc("src", ["yes"]), ds.Proc("nope", ["gnt-no-such-program"]),
            ds.FileOut("dst", str(tmp_path / "dst"))]


def _too_long(tmp_path: Path) -> list:
    (tmp_path / "disk").write_bytes(bytes(MIB))
    return [ds.Proc("src", ["head", "-c", str(2 * MIB), "/dev/zero"]),
            ds.Proc("cat", ["cat"]), ds.DiskOut("disk", str(tmp_path / "disk"))]


def _slow(tmp_path: Path) -> list:
    return [ds.Proc("slow", ["sleep", "30"]), ds.Proc("cat", ["cat"]),
            ds.FileOut("dst", str(tmp_path / "dst"))]


@pytest.mark.parametrize("build,fails", [(_success, False), (_failing_source, True),
                                         (_missing_middle, True), (_too_long, True),
                                         (_slow, True)],
                         ids=["ok", "failing-source", "missing-program", "too-long", "timeout"])
def test_no_descriptor_leaks(tmp_path: Path, build, fails: bool) -> None:
    stages = build(tmp_path)
    before = _fds()
    if fails:
        _error(stages, timeout=1)
    else:
        ds.run_chain(stages, 60)
    leaked = {fd: os.readlink(f"/proc/self/fd/{fd}") for fd in _fds() - before
              if os.path.exists(f"/proc/self/fd/{fd}")}
    assert leaked == {}


def test_invalid_chains_refused(tmp_path: Path) -> None:
    src = ds.FileIn("src", str(tmp_path / "src"))
    with pytest.raises(ds.StreamError, match="source and a sink"):
        ds.run_chain([src])
    with pytest.raises(ds.StreamError, match="only processes"):
        ds.run_chain([ds.Proc("a", ["true"]), src, ds.FileOut("o", str(tmp_path / "o"))])
    with pytest.raises(ds.StreamError, match="reads from its first stage"):
        ds.run_chain([ds.Proc("a", ["true"]), ds.FileIn("x", str(tmp_path / "x"))])


def test_ssh_argv() -> None:
    argv = ds.ssh_argv({"address": "198.18.0.12", "port": 2222, "user": "gnt",
                        "ssh_args": ["-o", "IdentityFile=/k"]}, "dd of=/x")
    assert argv[0] == "ssh" and "BatchMode=yes" in argv and "Compression=no" in argv
    assert argv[argv.index("-p") + 1] == "2222"
    assert argv[-3:] == ["IdentityFile=/k", "gnt@198.18.0.12", "dd of=/x"]
    assert ds.ssh_argv({"address": "h"}, "c")[-2:] == ["root@h", "c"]


@pytest.mark.parametrize("sparse", [False, True])
def test_remote_write_command_runs(tmp_path: Path, sparse: bool) -> None:
    data = os.urandom(MIB) + bytes(4 * MIB) + b"tail"
    (tmp_path / "src").write_bytes(data)
    dump = tmp_path / "new dir" / "it's a dump"
    result = ds.run_chain([ds.Proc("source", ["cat", str(tmp_path / "src")]),
                           ds.Proc("transfer", ["sh", "-c",
                                                ds.remote_write_command(str(dump), sparse)])])
    assert result["output"] == str(len(data)) and result["bytes"] is None
    assert dump.read_bytes() == data
    assert dump.parent.stat().st_mode & 0o777 == 0o700
    allocated = dump.stat().st_blocks * 512
    assert (allocated < 3 * MIB) if sparse else (allocated >= len(data) - 4096)


def test_remote_read_command_runs_and_names_a_missing_file(tmp_path: Path) -> None:
    data = _data(tmp_path / "dump file")
    ds.run_chain([ds.Proc("transfer", ["sh", "-c",
                                       ds.remote_read_command(str(tmp_path / "dump file"))]),
                  ds.FileOut("copy", str(tmp_path / "copy"))])
    assert (tmp_path / "copy").read_bytes() == data
    missing = str(tmp_path / "gone.dump")
    message = _error([ds.Proc("transfer of disk 0", ["sh", "-c",
                                                     ds.remote_read_command(missing)]),
                      ds.Proc("gzip -d", ["gzip", "-d", "-c"]),
                      ds.FileOut("copy", str(tmp_path / "copy2"))])
    assert message.startswith(f"transfer of disk 0 failed with exit code 2: no such file: {missing}")
