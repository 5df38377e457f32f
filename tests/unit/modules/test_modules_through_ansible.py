"""Every module once through Ansible itself (AnsiballZ packaging, module_utils imports, argument
handling), answering like the in-process runner the other module tests use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import run_in_process

PLUGINS = Path(__file__).resolve().parents[3] / "plugins"
#: Every module run on a node; those that only document an action plugin of the same name
#: (it runs on the controller) are tested with their action (test_executor_checkpoint.py).
MODULES = sorted(p.stem for p in (PLUGINS / "modules").glob("*.py")
                 if not p.stem.startswith("_") and not (PLUGINS / "action" / p.name).exists())


def test_every_module_is_listed():
    assert len(MODULES) >= 12 and "export_dir" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_module_through_ansible_answers_as_in_process(run_module_ansible, name):
    ok, through_ansible = run_module_ansible(name, {"gnt_no_such_option": 1}, check=True)
    assert not ok
    in_process_ok, in_process = run_in_process(name, {"gnt_no_such_option": 1}, check=True)
    assert not in_process_ok
    # the same message but for the module's name, which only Ansible knows
    assert _unnamed(through_ansible["msg"]) == _unnamed(in_process["msg"])


def _unnamed(message: str) -> str:
    return re.sub(r"for \([^)]*\) module", "for (MODULE) module", message)
