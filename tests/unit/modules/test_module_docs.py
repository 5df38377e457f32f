"""Each module's DOCUMENTATION options match its argument_spec exactly; YAML parses;
Ansible conventions validate-modules enforces (author, no ``state: info``) hold."""

from __future__ import annotations

import importlib
import re

import pytest
import yaml

MODULES = ["file_disk", "file_disk_info", "domain", "domain_info", "os_definition",
           "node_info", "disk_export", "disk_import", "domain_disk_snapshot",
           "instance", "instance_info", "cluster_info", "job", "tag", "group", "network", "node",
           "export", "lvm_volume", "lvm_storage", "drbd_device", "ext_volume", "storage_info"]
INFO_MODULES = [name for name in MODULES if name.endswith("_info")]


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


def documented_options(doc):
    """A module's options with those of its ``gnt.cluster.*`` doc fragments merged in."""
    options = dict(doc.get("options") or {})
    for fragment in doc.get("extends_documentation_fragment") or []:
        namespace, collection, fragment_name = fragment.split(".")
        assert (namespace, collection) == ("gnt", "cluster"), fragment
        frag = importlib.import_module(
            f"ansible_collections.gnt.cluster.plugins.doc_fragments.{fragment_name}")
        extra = yaml.safe_load(frag.ModuleDocFragment.DOCUMENTATION)["options"]
        assert not set(extra) & set(options), f"{fragment} repeats module options"
        options.update(extra)
    return options


@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_argument_spec(name, monkeypatch):
    mod, captured = argument_spec_of(name, monkeypatch)
    assert captured["supports_check_mode"] is True
    doc = yaml.safe_load(mod.DOCUMENTATION)
    assert doc["module"] == name
    options = documented_options(doc)
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


@pytest.mark.parametrize("name", MODULES)
def test_ansible_conventions(name, monkeypatch):
    mod, captured = argument_spec_of(name, monkeypatch)
    doc = yaml.safe_load(mod.DOCUMENTATION)
    authors = doc["author"] if isinstance(doc["author"], list) else [doc["author"]]
    for author in authors:
        assert re.fullmatch(r".+ \(@[\w-]+\)", author), author
    state = captured["argument_spec"].get("state")
    if state is not None:
        assert "info" not in state.get("choices", []), "state: info belongs in an _info module"
        assert state.get("default") in state["choices"]


@pytest.mark.parametrize("name", INFO_MODULES)
def test_info_modules_are_read_only(name, monkeypatch):
    mod, captured = argument_spec_of(name, monkeypatch)
    assert "state" not in captured["argument_spec"]
    assert captured["supports_check_mode"] is True
    source = open(mod.__file__).read()
    assert "exit_json(changed=False" in source and "changed=True" not in source
