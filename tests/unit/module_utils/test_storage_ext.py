"""storage.ext: the ExtStorage interface, run for real against the shipped sample provider
(roles/node_prepare/files/extstorage/filevol: volumes as sparse files), plus exact argv and
environment with a fake runner, provider checks and check mode."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils.storage import ext
from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import (
    NotSupportedError,
    StorageError,
    subprocess_runner,
)

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "roles" / "node_prepare" / "files" / "extstorage"
VOL = "6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f.ext.disk0"


@pytest.fixture
def volumes(tmp_path):
    path = tmp_path / "volumes"
    path.mkdir()
    return path


def real_backend(volumes, **kwargs):
    return ext.ExtBackend(subprocess_runner, "filevol", [str(SAMPLE)],
                          params={"dir": str(volumes)}, **kwargs)


def test_sample_provider_for_real(volumes):
    backend = real_backend(volumes, cname="data", uuid="6f1a3a8e")
    assert backend.info(VOL).exists is False
    created = backend.create(VOL, 8)
    assert created.actions == ["created 8 MiB"]
    assert created.state.path == str(volumes / VOL)  # attach printed the path
    assert created.state.attached and created.state.size_mib == 8
    assert created.state.details["device_kind"] == "file"
    assert os.path.getsize(volumes / VOL) == 8 * 2**20
    again = backend.create(VOL, 8)
    assert not again.changed and again.state.exists
    attached = backend.attach(VOL)
    assert attached.state.path == str(volumes / VOL)
    grown = backend.grow(VOL, 12, current_mib=8)
    assert grown.actions == ["grown from 8 MiB to 12 MiB"]
    assert os.path.getsize(volumes / VOL) == 12 * 2**20
    assert not backend.grow(VOL, 12, current_mib=12).changed
    backend.setinfo(VOL, "originstname+inst1.example.com")
    assert (volumes / f"{VOL}.info").read_text() == "originstname+inst1.example.com\n"
    backend.snapshot(VOL, f"{VOL}.snap", 12)
    assert (volumes / f"{VOL}.snap").exists()
    assert backend.detach(VOL).changed
    removed = backend.remove(VOL)
    assert removed.actions == ["detached", "removed"]
    assert not (volumes / VOL).exists()
    assert not backend.remove(VOL).changed
    assert backend.verify() == []


def test_script_failure_names_volume_provider_and_error(volumes):
    backend = real_backend(volumes)
    backend.create(VOL, 8)
    with pytest.raises(StorageError, match=r"ExtStorage volume .*disk0 \(provider filevol\): "
                                           r"grow script failed \(exit 1\): filevol grow: "
                                           r"volume .* is 8 MiB, cannot shrink to 4 MiB "
                                           r"\[step: grown from 2 MiB to 4 MiB\]"):
        backend.grow(VOL, 4, current_mib=2)  # the config is wrong about the size
    backend2 = ext.ExtBackend(subprocess_runner, "filevol", [str(SAMPLE)],
                              params={"dir": str(volumes / "missing")})
    with pytest.raises(StorageError, match="dir .*missing does not exist"):
        backend2.create(VOL, 4)


def test_check_mode_runs_no_script(volumes, fake_runner):
    backend = ext.ExtBackend(fake_runner, "filevol", [str(SAMPLE)], params={"dir": "/x"})
    assert backend.create(VOL, 4, check_mode=True).changed
    assert backend.remove(VOL, check_mode=True).changed
    assert backend.attach(VOL, check_mode=True).changed
    assert backend.detach(VOL, check_mode=True).changed
    assert backend.grow(VOL, 8, current_mib=4, check_mode=True).state.size_mib == 8
    assert backend.setinfo(VOL, "x", check_mode=True).changed
    assert fake_runner.calls == []


def test_exact_argv_and_environment(fake_runner):
    fake_runner.on([ext.ENV_TOOL], f"/srv/vols/{VOL}\n")
    backend = ext.ExtBackend(fake_runner, "filevol", [str(SAMPLE)],
                             params={"dir": "/srv/vols"}, cname="disk0", uuid="u-1")
    backend.grow(VOL, 8, current_mib=4)
    provider = str(SAMPLE / "filevol")
    assert fake_runner.calls == [[
        "/usr/bin/env", "-i", "-C", provider, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
        f"VOL_NAME={VOL}", "VOL_CNAME=disk0", "VOL_UUID=u-1", "EXTP_DIR=/srv/vols",
        "VOL_SIZE=4", "VOL_NEW_SIZE=8", f"{provider}/grow"]]
    fake_runner.calls.clear()
    backend.open(VOL, exclusive=False)  # the sample has no open script: skipped
    backend.setinfo(VOL, "-bad name/with*chars" + "x" * 200)
    (call,) = fake_runner.calls
    meta = [v for v in call if v.startswith("VOL_METADATA=")][0]
    assert meta == "VOL_METADATA=_bad_name_with_chars" + "x" * 108
    assert call[-1] == f"{provider}/setinfo"


def test_attach_output_checked(fake_runner, tmp_path):
    backend = ext.ExtBackend(fake_runner, "filevol", [str(SAMPLE)], params={"dir": "/x"})
    fake_runner.on([ext.ENV_TOOL], "\nkvm:rbd:pool/vol\n")
    state = backend.info(VOL)
    assert state.exists and state.path is None and state.details["uris"] == ["kvm:rbd:pool/vol"]
    fake_runner.on([ext.ENV_TOOL], "\n\n")
    with pytest.raises(StorageError, match="attach printed neither a device path nor a URI"):
        backend.info(VOL)
    fake_runner.on([ext.ENV_TOOL], str(tmp_path / "nothing") + "\n")
    with pytest.raises(StorageError, match="attach printed .*nothing, which does not exist"):
        backend.info(VOL)
    fake_runner.on([ext.ENV_TOOL], str(tmp_path) + "\n")
    with pytest.raises(StorageError, match="not a block device or file"):
        backend.info(VOL)


def test_provider_checks(tmp_path, fake_runner):
    base = tmp_path / "es"
    shutil.copytree(SAMPLE / "filevol", base / "mine")
    with pytest.raises(StorageError, match="ExtStorage provider nope not found in"):
        ext.find_provider("nope", [str(base)])
    for bad in ("../x", "-x", "a/b", ""):
        with pytest.raises(StorageError, match="invalid ExtStorage provider name"):
            ext.find_provider(bad, [str(base)])
    provider = ext.find_provider("mine", [str(tmp_path / "none"), str(base)])
    assert provider.scripts["open"] is None and provider.scripts["snapshot"]
    assert provider.parameters[0][0] == "dir"
    with pytest.raises(StorageError, match="does not declare parameter pool"):
        ext.ExtBackend(fake_runner, "mine", [str(base)], params={"pool": "x"})
    with pytest.raises(StorageError, match="invalid ExtStorage volume name"):
        ext.ExtBackend(fake_runner, "mine", [str(base)]).create("../etc", 4)
    (base / "mine" / "verify").unlink()
    (base / "broken").mkdir()
    listing = {p["name"]: p for p in ext.diagnose([str(base)])}
    assert "verify is missing" in listing["mine"]["error"]
    assert not listing["broken"]["valid"]
    (base / "mine" / "verify").write_text("#!/bin/sh\n")
    os.chmod(base / "mine" / "verify", 0o755)
    os.chmod(base / "mine" / "grow", 0o644)
    with pytest.raises(StorageError, match="provider mine: grow in .* is not executable"):
        ext.find_provider("mine", [str(base)])
    os.chmod(base / "mine" / "grow", 0o755)
    (base / "mine" / "snapshot").unlink()
    with pytest.raises(NotSupportedError, match="has no snapshot script"):
        ext.ExtBackend(fake_runner, "mine", [str(base)]).snapshot(VOL, "s", 4)
    assert ext.diagnose([str(base)])[1]["valid"] is True
