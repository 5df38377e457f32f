"""``-D``/``--disk-parameters template:key=val,...`` (gnt-cluster init/modify, gnt-group
add/modify): parsed here, validated by :func:`gnt.opcodes.params.check_diskparams`."""

from __future__ import annotations

import argparse
from typing import Any

from gnt.cli._params import ident_keyval
from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.opcodes.params import check_diskparams


def add_diskparams_option(parser: argparse.ArgumentParser) -> None:
    """Add Ganeti's repeatable ``-D``/``--disk-parameters`` option (dest ``diskparams``)."""
    parser.add_argument("-D", "--disk-parameters", dest="diskparams", action="append",
                        default=None, metavar="TEMPLATE:KEY=VAL,...",
                        help="Disk template parameters, one option per template (repeatable)")


def diskparams_from_args(specs: list[str] | None, allow_default: bool = True
                         ) -> dict[str, dict[str, Any]] | None:
    """The repeated ``-D`` values as ``{template: {key: value}}``, checked (None if none)."""
    if not specs:
        return None
    result: dict[str, dict[str, Any]] = {}
    for spec in specs:
        template, values = ident_keyval(spec, "disk parameters")
        if template in result:
            raise OpPrereqError(f"Disk parameters of template '{template}' given twice",
                                ECODE_INVAL)
        result[template] = values
    checked = check_diskparams(result, allow_default=allow_default)
    # the opcode carries the checked values; None (``-key``: back to the default) as "default"
    return {template: {key: "default" if value is None else value
                       for key, value in own.items()}
            for template, own in checked.items()}
