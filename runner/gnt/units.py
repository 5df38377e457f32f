"""Re-export of the collection's size parser (``plugins/module_utils/units.py``): one source."""

from __future__ import annotations

from ._collection import load_module_util

_units = load_module_util("units")
UnitError = _units.UnitError
parse_size_mib = _units.parse_size_mib
format_mib = _units.format_mib
