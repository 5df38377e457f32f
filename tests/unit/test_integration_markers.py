"""Every test that starts a lab or real libvirt carries the ``integration`` marker (issue 10),
so ``-m "not integration"`` runs only what needs neither. A lab module's ``pytestmark`` from
``gnt_labcluster.lab_marks()`` carries it."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REAL_PARTS = re.compile(r"make_cluster\(|start_cluster\(|running_cluster\(|libvirt\.open\(|Lab\(")
MARKED = re.compile(r"pytest\.mark\.integration|pytestmark = lab_marks\(")


def test_integration_and_lab_modules_are_marked():
    unmarked = [str(path.relative_to(TESTS))
                for folder in ("integration", "lab") for path in sorted((TESTS / folder).glob("test_*.py"))
                if not MARKED.search(path.read_text())]
    assert unmarked == []


def test_unit_tests_using_real_parts_are_marked():
    unmarked = []
    for path in sorted((TESTS / "unit").rglob("test_*.py")):
        text = path.read_text()
        for match in REAL_PARTS.finditer(text):
            start = text.rfind("\ndef test_", 0, match.start())
            if start < 0:
                continue  # a helper above the tests: its callers are checked
            head = text[max(0, start - 200):start]
            if "pytest.mark.integration" not in head and "pytestmark" not in text:
                unmarked.append(f"{path.relative_to(TESTS)}:{text.count(chr(10), 0, match.start()) + 1}")
    assert unmarked == []


def test_test_module_basenames_are_unique():
    """Test folders have no ``__init__.py``: pytest imports each module by its basename, so two
    modules of one name anywhere under tests/ stop the whole run at collection."""
    seen: dict[str, list[str]] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        seen.setdefault(path.name, []).append(str(path.relative_to(TESTS)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}
