"""Each module's DOCUMENTATION options match its argument_spec exactly; YAML parses."""

from __future__ import annotations

import importlib

import pytest
import yaml

MODULES = ["file_disk", "domain", "os_definition", "node_info"]


class _Captured(Exception):
    pass


def argument_spec_of(name, monkeypatch):
    mod = importlib.import_module(f"ansible_collections.gnt.cluster.plugins.modules.{name}")
    captured = {}

    def fake_module(**kwargs):
        captured.update(kwargs)
        raise _Captured()

    monkeypatch.setattr(mod, "AnsibleModule", fake_module)
    with pytest.raises(_Captured):
        mod.main()
    return mod, captured


@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_argument_spec(name, monkeypatch):
    mod, captured = argument_spec_of(name, monkeypatch)
    assert captured["supports_check_mode"] is True
    doc = yaml.safe_load(mod.DOCUMENTATION)
    assert doc["module"] == name
    options = doc["options"]
    spec = captured["argument_spec"]
    assert sorted(options) == sorted(spec)
    for option, rules in spec.items():
        documented = options[option]
        assert documented.get("type", "str") == rules.get("type", "str"), option
        assert documented.get("required", False) == rules.get("required", False), option
        assert documented.get("default") == rules.get("default"), option
        assert documented.get("choices") == rules.get("choices"), option
        assert documented.get("elements") == rules.get("elements"), option
        assert documented.get("description"), option
    yaml.safe_load(mod.EXAMPLES)
    returns = yaml.safe_load(mod.RETURN)
    assert all("description" in value for value in returns.values())
