"""A command line builds only the parser of the sub-command it names (common.build_for)."""

from __future__ import annotations

import argparse

import pytest

from gnt.cli import common, instance, node


def _choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    subs = next(a for a in parser._actions if a.dest == "command")
    return dict(subs.choices)


def test_only_the_named_sub_command_is_built() -> None:
    parser = common.build_for(instance.build_parser, ["shutdown", "--timeout=0", "vm1"])
    assert set(_choices(parser)) == {"shutdown", "stop"}
    args = parser.parse_args(["shutdown", "--timeout=0", "vm1"])
    full = instance.build_parser().parse_args(["shutdown", "--timeout=0", "vm1"])
    assert {k: v for k, v in vars(args).items() if k != "func"} == \
        {k: v for k, v in vars(full).items() if k != "func"}
    assert args.func.__qualname__ == full.func.__qualname__


def test_an_alias_builds_its_command() -> None:
    parser = common.build_for(instance.build_parser, ["start", "vm1"])
    assert "startup" in _choices(parser)
    assert parser.parse_args(["start", "vm1"]).command == "start"


@pytest.mark.parametrize("words", [[], ["--help"], ["no-such-command"], ["-d", "list"]])
def test_without_a_known_command_every_sub_command_is_built(words: list[str]) -> None:
    parser = common.build_for(node.build_parser, words)
    assert set(_choices(parser)) >= set(_choices(node.build_parser())) >= {"add", "list"}


def test_usage_still_lists_every_command(capsys: pytest.CaptureFixture) -> None:
    parser = common.build_for(instance.build_parser, ["startup"])
    assert set(parser.gnt_commands) >= {"add", "remove", "list", "startup", "migrate"}
    assert common.run(parser, ["startup", "--no-such-option", "vm1"]) == 2
    assert "--no-such-option" in capsys.readouterr().err
