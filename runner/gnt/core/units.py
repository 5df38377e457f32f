"""Re-export of the collection's size parser (``plugins/module_utils/units.py``): one source.

The coordinator adds one bound on top: a size of any length gives a clear error (never an
overflow traceback) and nothing above :data:`MAX_SIZE_MIB` is accepted.
"""

from __future__ import annotations

from typing import Any

from gnt.core.collection import load_module_util

_units = load_module_util("units")
UnitError = _units.UnitError
format_mib = _units.format_mib

# 16 EiB, the largest byte count of 64 bits: no disk or memory size can be larger.
MAX_SIZE_MIB = 1 << 44


def _shown(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-10:]} ({len(text)} characters)"


def parse_size_mib(value: Any) -> int:
    """Size in MiB (see the collection's ``parse_size_mib``), at most :data:`MAX_SIZE_MIB`."""
    try:
        mib = int(_units.parse_size_mib(value))
    except OverflowError as err:
        raise UnitError(f"invalid size '{_shown(value)}': too large (the maximum is"
                        " 16 EiB)") from err
    except UnitError as err:
        if len(str(value)) > 40:
            raise UnitError(f"invalid size '{_shown(value)}': expected a number with an"
                            " optional unit M, G or T") from err
        raise
    if mib > MAX_SIZE_MIB:
        raise UnitError(f"invalid size '{_shown(value)}': too large (the maximum is"
                        " 16 EiB)")
    return mib
