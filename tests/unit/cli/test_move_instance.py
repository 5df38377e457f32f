"""move-instance's options: every one of Ganeti 3.0's, the destination's defaults taken from
the source's, the single-instance rules (usage errors, exit code 2)."""

from __future__ import annotations

import pytest

from gnt.cli import move_instance as mi


def _parse(*argv: str):
    parser = mi.build_parser()
    args = parser.parse_args(list(argv))
    mi.check_options(parser, args)
    return args


def test_every_option_parses():
    args = _parse("--src-rapi-port", "1234", "--src-ca-file", "/s.pem", "--src-username", "u",
                  "--dest-ca-file", "/d.pem", "--dest-username", "w",
                  "--dest-instance-name", "new", "--dest-primary-node", "n1",
                  "--dest-secondary-node", "n2", "--dest-disk-template", "file",
                  "--compress", "gzip", "-H", "boot_order=cdrom",
                  "--backend-parameters", "maxmem=256,vcpus=2", "--os-parameters", "a=b",
                  "--net", "0:link=br1", "--parallel", "3", "--keep-source-instance", "-v",
                  "-d", "src.example", "dst.example", "inst")
    assert args.src_rapi_port == 1234 and args.dest_rapi_port is None
    assert args.beparams == {"maxmem": "256", "vcpus": "2"} and args.nics == [(0, {"link": "br1"})]
    assert args.hvparams == {"boot_order": "cdrom"} and args.parallel == 3
    assert args.keep_source_instance and args.verbose and args.debug
    assert args.compress == "gzip" and args.dest_disk_template == "file"


def test_destination_defaults_to_the_source(tmp_path):
    password = tmp_path / "pw"
    password.write_text("s3cret\nignored\n")
    args = _parse("--src-rapi-port", "1234", "--src-username", "u", "--src-password-file",
                  str(password), "a.example", "b.example", "inst")
    src, dest = mi.clients(args)
    assert (dest.port, dest.auth) == (1234, src.auth) and dest.host == "b.example"


@pytest.mark.parametrize("option", [["--dest-instance-name", "x"], ["--dest-primary-node", "n"],
                                    ["--dest-secondary-node", "n"], ["-H", "a=b"],
                                    ["-B", "a=b"], ["--os-parameters", "a=b"],
                                    ["--net", "0:link=b"]])
def test_single_instance_options_refused_with_several(option, capsys):
    with pytest.raises(SystemExit) as exit_:
        _parse(*option, "a", "b", "i1", "i2")
    assert exit_.value.code == 2
    assert "only be used when moving exactly one instance" in capsys.readouterr().err


def test_iallocator_with_nodes_and_bad_parallel_refused(capsys):
    for argv in (["--iallocator", "hail", "--dest-primary-node", "n"], ["--parallel", "0"],
                 ["--src-password-file", "/nonexistent/pw"]):
        with pytest.raises(SystemExit) as exit_:
            _parse(*argv, "a", "b", "i1")
        assert exit_.value.code == 2
