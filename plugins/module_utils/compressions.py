# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010 -- Ansible module conventions (see docs/node-primitives.md)
"""The compressions of disk data streams (instance export and import): one table.

Ganeti's compression names, in its order, with the tools a node runs for each, and the
suffix of a dump file written with each. Kept apart from :mod:`disk_stream` so the coordinator
and every ``gnt-*`` command read the names without importing the stream machinery
(subprocess, tempfile, threading).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# compression name -> (compress argv, decompress argv); "none" -> None. Ganeti's names.
COMPRESSION_TOOLS = {
    "none": None,
    "gzip": (["gzip", "-c"], ["gzip", "-d", "-c"]),
    "gzip-fast": (["gzip", "-1", "-c"], ["gzip", "-d", "-c"]),
    "gzip-slow": (["gzip", "-9", "-c"], ["gzip", "-d", "-c"]),
    "lzop": (["lzop", "-c"], ["lzop", "-d", "-c"]),
    "zstd": (["zstd", "-q", "-c", "-T0"], ["zstd", "-q", "-d", "-c"]),
}
# File name suffix of a dump written with each compression.
DUMP_SUFFIX = {"none": "", "gzip": ".gz", "gzip-fast": ".gz", "gzip-slow": ".gz",
               "lzop": ".lzo", "zstd": ".zst"}
