"""The files the executor hands to Ansible, written so that every value stays data.

Two forms, both read by Ansible's own loader (which tries JSON first, then YAML):

- **JSON** (the inventory, when it can): every string is ``{"__ansible_unsafe": ...}``, which
  Ansible's loader turns into a string it never evaluates as a template. Ansible reads JSON
  about four times faster than YAML (it builds no per-value origin for it), and copies it
  faster too. Dict keys cannot be marked in JSON, and Ansible trusts unmarked strings of an
  inventory file: so JSON is used only when no key could be taken for a template.
- **YAML** (the playbook, and an inventory with such a key): strings marked ``!unsafe``.

Either way an empty string reaches the roles as null, as Ansible (2.19) loads an empty
``!unsafe`` YAML string: the roles see the same values whichever form carried them.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

#: What Jinja reads as the start of a template (Ansible's default delimiters); a key holding
#: a ``{`` at all is kept out of JSON, to be safe from other delimiter settings too.
_TEMPLATE_START = "{"
#: The legacy JSON profile's marker for a string that is not a template.
UNSAFE_KEY = "__ansible_unsafe"


class UnsafeText(str):
    """A string to be written as an ``!unsafe`` YAML scalar: Ansible keeps it as data and
    never evaluates it as a template (DESIGN.md safety rules)."""


class _PlaybookDumper(yaml.SafeDumper):
    """YAML for our own playbook: plain strings are trusted, :class:`UnsafeText` is not."""


class _DataDumper(yaml.SafeDumper):
    """YAML for data (the inventory): every string, keys included, is ``!unsafe``."""


def _represent_unsafe(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("!unsafe", str(data), style='"')


_PlaybookDumper.add_representer(UnsafeText, _represent_unsafe)
_DataDumper.add_representer(str, _represent_unsafe)
_DataDumper.add_representer(UnsafeText, _represent_unsafe)


def dump_yaml(data: Any, data_only: bool) -> str:
    """``data`` as YAML for Ansible. With ``data_only`` every string is marked ``!unsafe``
    (inventories: values from operators, exports, the config and nodes); otherwise only
    :class:`UnsafeText` is (our playbook, whose templates must stay templates)."""
    dumper = _DataDumper if data_only else _PlaybookDumper
    return yaml.dump(data, Dumper=dumper, default_flow_style=False, sort_keys=True,
                     allow_unicode=True, width=1 << 30)


def _marked(value: Any) -> Any:
    """``value`` with every string wrapped as not-a-template (empty strings as null); raises
    :class:`ValueError` on a key that JSON cannot carry safely."""
    if isinstance(value, str):
        return {UNSAFE_KEY: str(value)} if value else None
    if isinstance(value, dict):
        marked = {}
        for key, sub in value.items():
            if not isinstance(key, str) or _TEMPLATE_START in key:
                raise ValueError(f"key {key!r} cannot be written as JSON data")
            marked[key] = _marked(sub)
        return marked
    if isinstance(value, (list, tuple)):
        return [_marked(sub) for sub in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise TypeError(f"cannot hand {type(value).__name__} to Ansible as data")


def dump_data(data: Any) -> str:
    """``data`` (an inventory) for Ansible with no string evaluated as a template: JSON with
    every string marked, or, when a key could be read as a template, ``!unsafe`` YAML."""
    try:
        return json.dumps(_marked(data), sort_keys=True, ensure_ascii=False,
                          allow_nan=False)
    except ValueError:
        return dump_yaml(data, data_only=True)
