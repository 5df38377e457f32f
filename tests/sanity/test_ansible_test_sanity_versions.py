"""``ansible-test sanity`` on the older ansible-core lines the collection claims
(``requires_ansible: ">=2.16.0"`` in meta/runtime.yml) that run on Python 3.11: 2.16, 2.17
and 2.18, each from a venv of its own holding the pinned release (tests/sanity/
ansible_versions.py; installed by ``scripts/setup.sh --test`` or, when missing, here).

The full set of sanity tests runs on 2.19 (test_ansible_test_sanity.py). On the older lines
only the tests whose verdict depends on the ansible-core version run: validate-modules
(documentation and argument-spec schema of that release), import (the plugins import with
that release's module_utils), compile, ansible-doc, runtime-metadata, action-plugin-docs,
yamllint and, on 2.16 only, the Python 2 era boilerplate and idiom checks later lines dropped
(future-import-boilerplate wants the exact line
``from __future__ import absolute_import, division, print_function``). The remaining
code-smell tests (line endings, smart quotes, shebang, symlinks, pep8, shellcheck ...) are the
same scripts in every line, so running them again finds nothing new.

pylint runs on the older lines too, with their own pylint and rules, on the collection's
plugins/ (what Ansible loads; runner/ is the coordinator, the same code on every line and linted
by 2.19's full run). Measured 2026-12-04 on the 2-CPU dev machine: 11-19 s per older line
(46 s for the three) once ansible-test's requirement venvs are cached in the version's home
(the first run builds them: 1.5-3.5 min per line), against ~3 min for the full 2.19 set.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ansible_versions import (
    PINS,
    UntrustedCache,
    collection_tree,
    ensure_venv,
    findings,
    home_for,
    prepare_home,
    run_sanity,
)

REPO = Path(__file__).resolve().parents[2]

VERSION_DEPENDENT = ["validate-modules", "import", "compile", "ansible-doc", "runtime-metadata",
                     "action-plugin-docs", "yamllint"]
ONLY_216 = ["future-import-boilerplate", "metaclass-boilerplate", "no-basestring",
            "no-dict-iteritems", "no-dict-iterkeys", "no-dict-itervalues", "no-main-display",
            "no-unicode-literals"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed: ansible-test lists collection files through git")
    return collection_tree(REPO, tmp_path_factory.mktemp("sanity-tree"))


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("line", sorted(PINS))
def test_ansible_test_sanity_on_older_ansible_core(line, tree, tmp_path):
    try:
        bin_dir = ensure_venv(line)
    except UntrustedCache as err:
        pytest.skip(f"cannot keep ansible-core {PINS[line]} in a private cache: {err}")
    home = prepare_home(home_for(line, tmp_path / "home"), bin_dir)
    tests = VERSION_DEPENDENT + (ONLY_216 if line == "2.16" else [])
    proc = run_sanity(bin_dir, tree, home, tests)
    assert proc.returncode == 0, f"ansible-core {PINS[line]}:\n{findings(proc)}"
    assert "Running sanity test \"validate-modules\"" in proc.stdout, proc.stdout[-3000:]
    assert not list(tree.glob("tests/sanity/ignore-*.txt"))
    # pylint with that line's pylint and rules, on what Ansible loads: the collection's
    # plugins (the coordinator under runner/ is the same code whatever the ansible-core line)
    linted = run_sanity(bin_dir, tree, home, ["pylint"], ["plugins/"])
    assert linted.returncode == 0, f"ansible-core {PINS[line]} pylint:\n{findings(linted)}"
    assert "Running sanity test \"pylint\"" in linted.stdout, linted.stdout[-3000:]
