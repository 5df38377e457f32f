"""Output formatting of the gnt-* commands: tables, Ganeti's generic info blocks, units, times.

Kept free of heavy imports: the size formatter (``gnt.core.units``) is only loaded when a table
really has a size column.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

# Field kinds (as ``query_fields`` reports them) whose values are right-aligned.
NUMERIC_KINDS = frozenset({"number", "int", "float", "unit"})
UNIT_KIND = "unit"
# Kind of a field the daemon does not know (Ganeti's QFT_UNKNOWN): shown as ``??``.
UNKNOWN_KIND = "unknown"
# ``list-fields`` names of the field kinds (Ganeti's; lists are Ganeti's "other" kind).
KIND_NAMES = {UNKNOWN_KIND: "Unknown", "text": "Text", "bool": "Boolean", "number": "Number",
              "float": "Floating-point number", UNIT_KIND: "Storage size",
              "timestamp": "Timestamp", "other": "Custom", "list": "Custom"}
UNITS = ("h", "m", "g", "t")


def parse_fields(selected: str | None, default: Sequence[str]) -> list[str]:
    """``-o`` handling: None gives the defaults, ``+a,b`` appends to them, else the list."""
    if not selected:
        return list(default)
    if selected.startswith("+"):
        return list(default) + [f for f in selected[1:].split(",") if f]
    return [f for f in selected.split(",") if f]


def format_unit(mib: Any, units: str) -> str:
    """A MiB value for display: ``h`` picks M/G/T with a suffix; ``m``/``g``/``t`` print bare
    numbers in that unit (Ganeti's rule, so scripts can parse ``--units=m`` output)."""
    if isinstance(mib, bool) or not isinstance(mib, (int, float)):
        return str(mib)
    from gnt.core.units import format_mib  # deferred: only tables with size columns pay for it

    text = format_mib(mib, units)
    if units != "h":
        text = text[:-1]
    return text


def default_units(units: str | None, separator: str | None) -> str:
    """Ganeti's default: human-readable sizes, but plain MiB when ``--separator`` is given."""
    if units:
        return units
    return "m" if separator else "h"


def format_time(value: Any, usecs: bool = False) -> str:
    """Ganeti's ``FormatTime``: ``2009-10-25 23:18:02`` (local time) or ``N/A``.

    ``value`` is seconds (int/float) or a ``[sec, usec]`` pair; with ``usecs`` the
    microseconds are appended as ``.123456``.
    """
    usec = None
    if isinstance(value, (list, tuple)) and len(value) == 2:
        value, usec = value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "N/A"
    text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
    if usecs:
        if usec is None:
            usec = int(round((value - int(value)) * 1_000_000))
        text += ".%06d" % int(usec)
    return text


def format_timestamp(ts: Any) -> str:
    """A job timestamp ``[sec, usec]`` as ``2009-10-25 23:18:02.180569`` (``?`` if absent)."""
    if not isinstance(ts, (list, tuple)) or len(ts) != 2:
        return "?"
    return format_time(list(ts), usecs=True)


def merge_time(ts: Sequence[int | float]) -> float:
    """``[sec, usec]`` as float seconds."""
    return float(ts[0]) + float(ts[1]) / 1_000_000


def format_value(value: Any, kind: str | None, units: str, verbose: bool = False) -> str:
    """One table cell, following Ganeti's per-kind formatting."""
    if kind == UNKNOWN_KIND:
        return "(unknown)" if verbose else "??"
    if value is None:
        return "(unavail)" if verbose else "-"
    if kind == UNIT_KIND:
        return format_unit(value, units)
    if kind == "timestamp":
        return format_time(value)
    if isinstance(value, bool) or kind == "bool":
        return "Y" if value else "N"
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(item, None, units, verbose) for item in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def generate_table(titles: Sequence[str], rows: Iterable[Sequence[str]],
                   align_right: Sequence[bool], separator: str | None = None,
                   header: bool = True) -> list[str]:
    """Ganeti's table layout: space-separated columns sized to their widest cell, text
    left-aligned, numbers right-aligned, no padding after a left-aligned last column.
    With ``separator`` the cells are just joined by it."""
    data: list[list[str]] = [list(titles)] if header else []
    data.extend([str(cell) for cell in row] for row in rows)
    if separator is not None:
        return [separator.join(row) for row in data]
    widths = [0] * len(titles)
    for row in data:
        for idx, cell in enumerate(row):
            widths[idx] = max(widths[idx], len(cell))
    if titles and not align_right[-1]:
        widths[-1] = 0
    lines = []
    for row in data:
        cells = [cell.rjust(width) if right else cell.ljust(width)
                 for cell, width, right in zip(row, widths, align_right)]
        lines.append(" ".join(cells))
    return lines


def format_query_table(fields: Sequence[dict[str, Any]], data: Sequence[Sequence[Any]],
                       units: str | None = None, separator: str | None = None,
                       header: bool = True, verbose: bool = False,
                       override: dict[str, Callable[[Any], str]] | None = None) -> list[str]:
    """Format a ``query`` answer (field definitions + rows) as table lines."""
    units = default_units(units, separator)
    override = override or {}
    titles = [str(f.get("title") or f.get("name")) for f in fields]
    kinds = [f.get("kind") for f in fields]
    align = [kind in NUMERIC_KINDS for kind in kinds]
    rows = []
    for row in data:
        cells = []
        for fdef, kind, value in zip(fields, kinds, row):
            fn = override.get(str(fdef.get("name")))
            if fn is not None and value is not None:
                cells.append(fn(value))
            else:
                cells.append(format_value(value, kind, units, verbose))
        rows.append(cells)
    return generate_table(titles, rows, align, separator, header)


# --- Ganeti's generic (YAML-like) info blocks ------------------------------------------------

def _scalar(data: Any) -> bool:
    return not isinstance(data, (list, dict, tuple))


def _is_ordered_dict(data: Any) -> bool:
    return isinstance(data, list) and bool(data) and isinstance(data[0], tuple)


def _alignment(entries: Sequence[tuple[Any, ...]]) -> dict[Any, int]:
    """Longest key of each alignment group of an ordered mapping's ``(key, value, group)``."""
    widths: dict[Any, int] = {}
    for entry in entries:
        if len(entry) > 2:
            widths[entry[2]] = max(widths.get(entry[2], 0), len(entry[0]))
    return widths


def _serialize(out: list[str], data: Any, level: int, afterkey: bool = False) -> None:
    ind = "  "
    if isinstance(data, dict) or _is_ordered_dict(data):
        entries: list[tuple[Any, ...]] = (sorted(data.items()) if isinstance(data, dict)
                                          else list(data))
        if not entries:
            out.append("\n")
            return
        if afterkey:
            out.append("\n")
        widths = _alignment(entries)
        for pos, entry in enumerate(entries):
            key, val = entry[0], entry[1]
            if afterkey or pos:
                out.append(ind * level)
            out.append(f"{key}: ")
            if len(entry) > 2:
                out.append(" " * (widths[entry[2]] - len(key)))
            _serialize(out, val, level + 1, afterkey=True)
    elif isinstance(data, tuple) and all(map(_scalar, data)):
        out.append("[%s]\n" % ", ".join(map(str, data)))
    elif isinstance(data, (list, tuple)):
        if not data:
            out.append("\n")
            return
        if afterkey:
            out.append("\n")
        for pos, item in enumerate(data):
            if afterkey or pos:
                out.append(ind * level)
            out.append("- ")
            _serialize(out, item, level + 1)
    else:
        out.append(f"{data}\n")


def format_generic_info(data: Any) -> str:
    """Render nested data the way Ganeti's ``PrintGenericInfo`` does (valid YAML).

    Lists of ``(key, value)`` tuples are ordered mappings (``(key, value, group)`` aligns
    the values of the keys sharing ``group``); dicts are printed sorted; other
    lists become ``- item`` entries; scalars are printed with ``str``.
    """
    out: list[str] = []
    _serialize(out, data, 0)
    return "".join(out).rstrip("\n")


def format_params_info(own: dict[str, Any] | None, actual: dict[str, Any] | None) -> dict:
    """Parameters for info output: own values as they are, inherited ones ``default (X)``."""
    own = own or {}
    result: dict[str, Any] = {}
    for key, value in (actual or {}).items():
        if isinstance(value, dict) and value:
            result[key] = format_params_info(own.get(key) or {}, value)
        elif key in own and own[key] is not None:
            result[key] = str(own[key])
        else:
            result[key] = f"default ({value})"
    for key, value in own.items():
        if key not in result and value is not None:
            result[key] = str(value)
    return result


def format_grouped_params(params: Any) -> Any:
    """Nested parameter dicts with every leaf turned into a string."""
    if isinstance(params, dict):
        return {str(k): format_grouped_params(v) for k, v in params.items()}
    if isinstance(params, (list, tuple)):
        return ", ".join(map(str, params))
    return str(params)


def format_ipolicy(policy: dict[str, Any], own: dict[str, Any] | None = None
                   ) -> list[tuple[str, Any]]:
    """An instance policy as Ganeti's info blocks show it: bounds, std, allowed disk templates
    and the ratios. With ``own`` (a group's own values), inherited values read ``default (X)``."""
    def shown(key: str, text: Any) -> Any:
        if own is None or key in own:
            return text
        return f"default ({text})"

    bounds = [[(f"{kind}/{index}", sorted(spec.get(kind, {}).items()))
               for kind in ("max", "min")]
              for index, spec in enumerate(policy.get("minmax") or [])]
    return [
        ("bounds specs", bounds),
        ("std", sorted((policy.get("std") or {}).items())),
        ("allowed disk templates",
         shown("disk-templates", ", ".join(policy.get("disk-templates") or []))),
        ("vcpu-ratio", shown("vcpu-ratio", _ratio(policy.get("vcpu-ratio")))),
        ("spindle-ratio", shown("spindle-ratio", _ratio(policy.get("spindle-ratio")))),
    ]


def _ratio(value: Any) -> Any:
    """4.0 shown as 4, as Ganeti prints ratios."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
