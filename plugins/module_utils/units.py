# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Size units, parsed in one place for the node primitives and the coordinator.

Sizes are MiB internally. Input follows Ganeti's rules: a bare number is MiB; suffixes
``m``/``M``, ``g``/``G``, ``t``/``T`` (optionally followed by ``b``, ``ib``) scale it; the
result is rounded up to a multiple of 4 MiB.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_SCALE = {
    "": 1,
    "m": 1, "mb": 1, "mib": 1,
    "g": 1024, "gb": 1024, "gib": 1024,
    "t": 1024 * 1024, "tb": 1024 * 1024, "tib": 1024 * 1024,
}


class UnitError(ValueError):
    """A size string that cannot be parsed; the message names the value."""


def parse_size_mib(value):
    """Return the size in MiB (int, rounded up to a multiple of 4) for ``value``.

    ``value`` is an int (MiB) or a string like ``"512"``, ``"512M"``, ``"20G"``, ``"1.5g"``.
    Raises :class:`UnitError` naming the value for anything else (e.g. ``"12Q"``).
    """
    if isinstance(value, bool):
        raise UnitError("invalid size %r: not a number" % (value,))
    if isinstance(value, int):
        mib = float(value)
    else:
        match = _SIZE_RE.match(str(value))
        if not match:
            raise UnitError("invalid size %r: expected a number with an optional unit M, G or T"
                            % (value,))
        number, unit = match.groups()
        scale = _SCALE.get(unit.lower())
        if scale is None:
            raise UnitError("invalid size %r: unknown unit %r (use M, G or T)" % (value, unit))
        mib = float(number) * scale
    if mib < 0:
        raise UnitError("invalid size %r: negative" % (value,))
    result = int(math.ceil(mib))
    if result % 4:
        result += 4 - result % 4
    return result


def format_mib(mib, unit="h"):
    """Format MiB for humans like Ganeti's list output: ``"512M"``, ``"20.0G"``, ``"1.5T"``.

    ``unit`` is ``"h"`` (human, chosen by magnitude) or one of ``m``, ``g``, ``t``.
    """
    mib = float(mib)
    if unit == "h":
        if mib < 1024:
            unit = "m"
        elif mib < 1024 * 1024:
            unit = "g"
        else:
            unit = "t"
    if unit == "m":
        return "%dM" % round(mib)
    if unit == "g":
        return "%.1fG" % (mib / 1024)
    if unit == "t":
        return "%.1fT" % (mib / 1024 / 1024)
    raise UnitError("unknown unit %r" % (unit,))
