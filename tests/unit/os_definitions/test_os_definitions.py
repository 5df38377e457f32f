"""The bundled OS definitions (roles/node_prepare/files/os/{tinylinux,blank}) as Ganeti runs them.

Fast and offline: tinylinux's ``create`` is pointed at a small stand-in image through
``GNT_TINYLINUX_IMAGE`` (an MBR + a FAT16 partition at 1 MiB, like the real one but without a
kernel), so no kernel is downloaded. The real image is built and booted in
``tests/integration/test_tinylinux_image.py``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from gnt_testutil import MIB, sha256, sparse_file

REPO = Path(__file__).resolve().parents[3]
OS_ROOT = REPO / "roles" / "node_prepare" / "files" / "os"
TINY = OS_ROOT / "tinylinux"
BLANK = OS_ROOT / "blank"
SCRIPTS = ("create", "import", "export", "rename", "verify")
# Ganeti runs OS scripts with a clean environment; so do we.
BASE_ENV = {"PATH": "/sbin:/bin:/usr/sbin:/usr/bin"}

NEEDED_TOOLS = ("mkfs.vfat", "mcopy", "mtype", "sfdisk", "fallocate")


def run(os_dir: Path, script: str, *args: str, env: dict | None = None,
        stdin: bytes | None = None, **popen) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(os_dir / script), *args], env={**BASE_ENV, **(env or {})}, input=stdin,
        capture_output=True, timeout=60, **popen, check=False)


def mtype_hostname(disk: Path) -> str:
    out = subprocess.run(["mtype", "-i", f"{disk}@@1M", "::hostname"], capture_output=True,
                         text=True, check=True, env={**BASE_ENV, "MTOOLS_SKIP_CHECK": "1"})
    return out.stdout.strip()


@pytest.fixture
def workdir():
    path = Path(tempfile.mkdtemp(prefix="gnt-osdef-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fake_image(workdir):
    """A 4 MiB stand-in for the tinylinux image: DOS label, FAT16 partition at 1 MiB."""
    missing = [tool for tool in NEEDED_TOOLS if shutil.which(tool, path=BASE_ENV["PATH"]) is None]
    if missing:
        pytest.skip(f"tools missing on this machine: {', '.join(missing)} (scripts/setup.sh)")
    part = workdir / "part.img"
    subprocess.run(["mkfs.vfat", "-C", "-F", "16", "-s", "1", "-h", "2048", str(part), "3072"],
                   check=True, capture_output=True)
    cfg = workdir / "syslinux.cfg"
    cfg.write_text("DEFAULT none\n")
    host = workdir / "hostname"
    host.write_text("tinylinux\n")
    subprocess.run(["mcopy", "-i", str(part), str(cfg), str(host), "::/"], check=True,
                   env={**BASE_ENV, "MTOOLS_SKIP_CHECK": "1"})
    image = sparse_file(workdir / "fake-tinylinux.img", 4 * MIB)
    subprocess.run(["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", str(image)],
                   input=b"label: dos\nstart=2048, size=6144, type=6, bootable\n", check=True,
                   capture_output=True)
    with open(image, "r+b") as out, open(part, "rb") as src:
        out.seek(MIB)
        out.write(src.read())
    part.unlink()
    return image


def tiny_env(image: Path, **extra: str) -> dict:
    return {"GNT_TINYLINUX_IMAGE": str(image), **extra}


def api20(name: str, disk: Path, **extra: str) -> dict:
    return {"OS_API_VERSION": "20", "OS_NAME": "tinylinux", "OS_VARIANT": "default",
            "INSTANCE_NAME": name, "DISK_COUNT": "1", "DISK_0_PATH": str(disk), **extra}


# --- the text files -----------------------------------------------------------------------------

@pytest.mark.parametrize("os_dir", [TINY, BLANK], ids=["tinylinux", "blank"])
def test_definition_files(os_dir):
    assert (os_dir / "ganeti_api_version").read_text() == "20\n5\n"
    assert (os_dir / "variants.list").read_text().split() == ["default"]
    for script in SCRIPTS:
        assert os.access(os_dir / script, os.X_OK), f"{os_dir.name}/{script} not executable"


def test_parameters_list():
    tiny = [line.split(None, 1) for line in (TINY / "parameters.list").read_text().splitlines()]
    assert [p[0] for p in tiny] == ["hostname"]
    assert all(len(p) == 2 and p[1].strip() for p in tiny), "every parameter has a description"
    assert (BLANK / "parameters.list").read_text().strip() == ""


# --- usage errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("os_dir", [TINY, BLANK], ids=["tinylinux", "blank"])
@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("args", [(), ("-h",), ("--help",)], ids=["no-args", "-h", "--help"])
def test_usage(os_dir, script, args):
    result = run(os_dir, script, *args)
    assert result.returncode != 0
    assert result.stderr.decode().startswith("Usage: "), result.stderr
    assert result.stdout == b""


@pytest.mark.parametrize("os_dir", [TINY, BLANK], ids=["tinylinux", "blank"])
@pytest.mark.parametrize(("script", "args"), [
    ("create", ("-i", "x")),                       # no -b
    ("create", ("-i", "x", "-b", "d", "extra")),   # stray argument
    ("create", ("-x", "1")),                       # unknown option
    ("create", ("-i",)),                           # option without value
    ("import", ("-b", "d")),                       # no -i
    ("export", ("-i", "x", "-b", "d", "-s", "e")),  # export takes no swap disk
    ("rename", ("-o", "a", "-b", "d")),            # no -n
    ("verify", ("bogus",)),
])
def test_usage_wrong_arguments(os_dir, script, args):
    result = run(os_dir, script, *args)
    assert result.returncode != 0
    assert result.stderr.decode().startswith("Usage: "), result.stderr


def test_build_image_usage():
    assert run(TINY, "build-image", "--bogus").returncode == 2
    helped = run(TINY, "build-image", "--help")
    assert helped.returncode == 0 and b"Usage: build-image" in helped.stderr


@pytest.mark.parametrize("os_dir", [TINY, BLANK], ids=["tinylinux", "blank"])
def test_unsupported_api_version_and_variant(os_dir, workdir):
    disk = sparse_file(workdir / "d.img", 8 * MIB)
    bad_api = run(os_dir, "create", env=api20("a", disk, OS_API_VERSION="99"))
    assert bad_api.returncode == 1 and b"OS_API_VERSION=99" in bad_api.stderr
    bad_variant = run(os_dir, "create", env=api20("a", disk, OS_VARIANT="fancy"))
    assert bad_variant.returncode == 1 and b"variant 'fancy'" in bad_variant.stderr


# --- tinylinux ----------------------------------------------------------------------------------

def test_tinylinux_create_too_small_names_sizes(fake_image, workdir):
    disk = sparse_file(workdir / "small.img", 2 * MIB)
    result = run(TINY, "create", env=tiny_env(fake_image, **api20("small.example.com", disk)))
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "too small" in err and str(disk) in err
    assert "2097152 bytes" in err and "4194304 bytes" in err, err
    assert disk.stat().st_size == 2 * MIB
    assert disk.read_bytes() == bytes(2 * MIB), "a failed create must not touch the disk"


def test_tinylinux_create_api20_writes_image_and_hostname(fake_image, workdir):
    disk = sparse_file(workdir / "disk.img", 16 * MIB)
    result = run(TINY, "create", env=tiny_env(fake_image, **api20("web1.example.com", disk)))
    assert result.returncode == 0, result.stderr
    assert disk.stat().st_size == 16 * MIB, "create must not resize the disk"
    assert disk.stat().st_blocks * 512 < 8 * MIB, "the disk stays sparse"
    assert mtype_hostname(disk) == "web1.example.com"
    with open(disk, "rb") as got, open(fake_image, "rb") as want:
        assert got.read(MIB) == want.read(MIB), "MBR and partition table come from the image"
    assert b"tinylinux/create:" in result.stderr, "create logs what it does on stderr"


def test_tinylinux_create_api5_and_reinstall_over_old_data(fake_image, workdir):
    disk = workdir / "disk.img"
    disk.write_bytes(os.urandom(8 * MIB))
    result = run(TINY, "create", "-i", "db1.example.com", "-b", str(disk), "-s", "/dev/null",
                 env=tiny_env(fake_image))
    assert result.returncode == 0, result.stderr
    assert mtype_hostname(disk) == "db1.example.com"
    with open(disk, "rb") as got, open(fake_image, "rb") as want:
        got_bytes, want_bytes = got.read(4 * MIB), want.read()
    assert got_bytes[:MIB] == want_bytes[:MIB]
    # Only the hostname file and its directory entry differ from the image; none of the old
    # random bytes survive in the image's range.
    differing = sum(1 for a, b in zip(got_bytes, want_bytes, strict=True) if a != b)
    assert differing < 512, f"{differing} bytes differ from the image"


def test_tinylinux_hostname_parameter_and_bad_names(fake_image, workdir):
    disk = sparse_file(workdir / "disk.img", 8 * MIB)
    env = tiny_env(fake_image, **api20("inst1.example.com", disk, OSP_HOSTNAME="guest-a"))
    assert run(TINY, "create", env=env).returncode == 0
    assert mtype_hostname(disk) == "guest-a"
    bad = run(TINY, "create", env=tiny_env(fake_image, **api20("bad_name!", disk)))
    assert bad.returncode == 1 and b"'bad_name!' is not a valid guest hostname" in bad.stderr
    assert mtype_hostname(disk) == "guest-a"


def test_tinylinux_create_api20_without_disk_path(fake_image):
    env = tiny_env(fake_image, **api20("a.example.com", Path("/unused")))
    env.pop("DISK_0_PATH")
    env["DISK_0_URI"] = "rbd:pool/vol"
    result = run(TINY, "create", env=env)
    assert result.returncode == 1
    assert b"DISK_0_PATH is not set" in result.stderr and b"rbd:pool/vol" in result.stderr


def test_tinylinux_rename_api5_and_api20(fake_image, workdir):
    disk = sparse_file(workdir / "disk.img", 8 * MIB)
    assert run(TINY, "create", "-i", "old.example.com", "-b", str(disk),
               env=tiny_env(fake_image)).returncode == 0
    api5 = run(TINY, "rename", "-o", "old.example.com", "-n", "new.example.com", "-b", str(disk))
    assert api5.returncode == 0, api5.stderr
    assert mtype_hostname(disk) == "new.example.com"
    env = api20("newer.example.com", disk, OLD_INSTANCE_NAME="new.example.com")
    api20_run = run(TINY, "rename", env=env)
    assert api20_run.returncode == 0, api20_run.stderr
    assert mtype_hostname(disk) == "newer.example.com"


def test_tinylinux_rename_on_foreign_disk_fails_clearly(workdir):
    disk = sparse_file(workdir / "blank.img", 8 * MIB)
    result = run(TINY, "rename", "-o", "a", "-n", "b", "-b", str(disk))
    assert result.returncode == 1
    assert b"no tinylinux FAT partition" in result.stderr


@pytest.mark.parametrize("os_dir", [TINY, BLANK], ids=["tinylinux", "blank"])
def test_export_import_roundtrip(os_dir, workdir):
    src = workdir / "src.img"
    src.write_bytes(os.urandom(3 * MIB) + bytes(2 * MIB) + os.urandom(MIB))
    dump = workdir / "dump.raw"
    size_file = workdir / "size"
    with open(dump, "wb") as out, open(size_file, "wb") as size_fd:
        env = api20("x.example.com", src, EXPORT_INDEX="0", EXPORT_DEVICE=str(src),
                    EXPORT_DISK_PATH=str(src), EXP_SIZE_FD=str(size_fd.fileno()))
        exported = subprocess.run([str(os_dir / "export")], env={**BASE_ENV, **env}, stdout=out,
                                  stderr=subprocess.PIPE, pass_fds=(size_fd.fileno(),), timeout=60, check=False)
    assert exported.returncode == 0, exported.stderr
    assert size_file.read_text() == f"{6 * MIB}\n"
    assert sha256(dump) == sha256(src)

    dst = workdir / "dst.img"
    dst.write_bytes(os.urandom(6 * MIB))  # old contents must not survive
    env = api20("x.example.com", dst, IMPORT_INDEX="0")
    imported = run(os_dir, "import", env=env, stdin=dump.read_bytes())
    assert imported.returncode == 0, imported.stderr
    assert sha256(dst) == sha256(src)
    assert dst.stat().st_blocks * 512 < 6 * MIB, "zero runs are not written (sparse import)"

    dst5 = sparse_file(workdir / "dst5.img", 6 * MIB)
    api5 = run(os_dir, "import", "-i", "x", "-b", str(dst5), stdin=dump.read_bytes())
    assert api5.returncode == 0, api5.stderr
    assert sha256(dst5) == sha256(src)
    out5 = run(os_dir, "export", "-i", "x", "-b", str(dst5))
    assert out5.returncode == 0 and hashlib.sha256(out5.stdout).hexdigest() == sha256(src)


@pytest.mark.parametrize("os_dir", [TINY, BLANK], ids=["tinylinux", "blank"])
def test_import_larger_than_disk_fails_without_growing_it(os_dir, workdir):
    disk = sparse_file(workdir / "d.img", 2 * MIB)
    result = run(os_dir, "import", "-i", "x", "-b", str(disk), stdin=b"\1" * (3 * MIB))
    assert result.returncode == 1
    assert b"larger than disk" in result.stderr and b"2097152 bytes" in result.stderr
    assert disk.stat().st_size == 2 * MIB


def test_tinylinux_verify():
    assert run(TINY, "verify", "parameters").returncode == 0
    assert run(TINY, "verify", "parameters", env={"OSP_HOSTNAME": "ok-name.example"}).returncode == 0
    bad = run(TINY, "verify", "parameters", env={"OSP_HOSTNAME": "-nope"})
    assert bad.returncode == 1 and b"'-nope'" in bad.stderr
    unknown = run(TINY, "verify", "parameters", env={"OSP_DHCP": "yes"})
    assert unknown.returncode == 1 and b"unknown OS parameter 'dhcp'" in unknown.stderr


# --- blank --------------------------------------------------------------------------------------

def test_blank_create_leaves_disk_untouched(workdir):
    disk = workdir / "disk.img"
    disk.write_bytes(os.urandom(4 * MIB))
    before = sha256(disk)
    api20_run = run(BLANK, "create", env=api20("b1.example.com", disk))
    assert api20_run.returncode == 0, api20_run.stderr
    api5_run = run(BLANK, "create", "-i", "b1.example.com", "-b", str(disk), "-s", str(disk))
    assert api5_run.returncode == 0, api5_run.stderr
    renamed = run(BLANK, "rename", "-o", "b1.example.com", "-n", "b2.example.com", "-b", str(disk))
    assert renamed.returncode == 0, renamed.stderr
    assert sha256(disk) == before
    assert disk.stat().st_size == 4 * MIB


def test_blank_verify():
    assert run(BLANK, "verify", "parameters").returncode == 0
    bad = run(BLANK, "verify", "parameters", env={"OSP_HOSTNAME": "x"})
    assert bad.returncode == 1 and b"no parameters" in bad.stderr
