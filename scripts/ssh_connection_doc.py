"""Write plugins/doc_fragments/ssh_connection.py: the options of ``ansible.builtin.ssh`` (with
what its fragment ``connection_pipelining`` adds), for ``gnt.cluster.ssh``, which extends that
plugin and so must declare every option any claimed ansible-core line reads. The fragment is a
literal (ansible-test's yamllint and ansible-doc read it as source): regenerate it when
ansible-core changes; tests/unit/modules/test_connection_ssh.py checks it against the
installed ansible-core.

Usage: ``.venv/bin/python scripts/ssh_connection_doc.py [PYTHON ...]``: the options of each
interpreter's ansible-core, merged (for an option in several, the first interpreter's); by
default this interpreter and the older lines' venvs of the sanity tests, newest first.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "plugins" / "doc_fragments" / "ssh_connection.py"
OLDER = sorted(Path("/var/cache/gnt/ansible-test").glob("ansible-core-2.1[678].*/venv/bin/python"),
               reverse=True)
READ = """
import json, yaml
from ansible.plugins.connection import ssh
from ansible.plugins.doc_fragments import connection_pipelining as pipelining
options = yaml.safe_load(ssh.DOCUMENTATION)["options"]
for name, spec in yaml.safe_load(pipelining.ModuleDocFragment.DOCUMENTATION)["options"].items():
    options[name] = {**spec, **options.get(name, {})}
print(json.dumps(options))
"""
HEAD = '''# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP004, UP009, UP010, E501 -- Ansible plugin conventions; generated text
"""The options of ``ansible.builtin.ssh`` for ``gnt.cluster.ssh``, which extends it: written by
scripts/ssh_connection_doc.py from ansible-core's own documentation of them (the lines
{lines}), without ansible-core's ``version_added`` and ``deprecated``.
Do not edit by hand."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Every option of ``ansible.builtin.ssh``, with its settings, variables and defaults."""

    DOCUMENTATION = r"""
'''


#: Entries that carry ansible-core's versions, which in a collection's documentation would read
#: as the collection's: left out.
CORE_VERSIONED = ("version_added", "deprecated")


def without_versions(value):  # noqa: ANN001, ANN201 - YAML data
    """``value`` without :data:`CORE_VERSIONED` entries."""
    if isinstance(value, dict):
        return {key: without_versions(item) for key, item in value.items()
                if key not in CORE_VERSIONED}
    if isinstance(value, list):
        return [without_versions(item) for item in value]
    return value


def options_of(python: str) -> tuple[str, dict]:
    """The ansible-core version of ``python`` and its ssh options."""
    version = subprocess.run([python, "-c", "import ansible.release as r; print(r.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    out = subprocess.run([python, "-c", READ], capture_output=True, text=True, check=True).stdout
    options = without_versions(json.loads(out))
    for spec in options.values():
        listed_choices(spec)
    return version, options


def listed_choices(spec: dict) -> None:
    """Choices given with a description each (a mapping, which ansible-core 2.16's schema does
    not take) become a list, their descriptions lines of the option's description."""
    choices = spec.get("choices")
    if isinstance(choices, dict):
        lines = spec.get("description") or []
        lines = [lines] if isinstance(lines, str) else list(lines)
        spec["description"] = lines + [f"V({name}): {text}" for name, text in choices.items()]
        spec["choices"] = list(choices)


def main(argv: list[str]) -> int:
    pythons = argv or [sys.executable, *map(str, OLDER)]
    merged: dict = {}
    versions = []
    for python in pythons:
        version, options = options_of(python)
        versions.append(version)
        for name, spec in options.items():
            merged.setdefault(name, spec)
    text = yaml.safe_dump({"options": dict(sorted(merged.items()))}, default_flow_style=False,
                          width=100)
    TARGET.write_text(HEAD.format(lines=", ".join(versions)) + text + '"""\n')
    print(f"{TARGET}: {len(merged)} options from ansible-core {', '.join(versions)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
