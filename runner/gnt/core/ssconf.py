"""ssconf: small files on every node with what a node needs to know without the master
(``ssconf_master_node``, ``ssconf_node_list``, ``ssconf_master_candidates`` ...).

They live in the data dir (``GNT_ROOT/var/lib/gnt/ssconf_<key>``), one value or one item per
line, and are rewritten on every node whenever a config change alters them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gnt import __version__
from gnt.core import settings
from gnt.core.fileutil import atomic_write, ensure_dir

PREFIX = "ssconf_"
# Ganeti makes ssconf files world-readable (they hold no secret); the data dir around them is
# 0700 here all the same.
FILE_MODE = 0o444


def values(data: dict[str, Any]) -> dict[str, str]:
    """ssconf key -> file content, computed from a ``config.data`` dict."""
    cluster = data["cluster"]
    nodes = sorted(data["nodes"].values(), key=lambda n: n["name"])
    master = data["nodes"][cluster["master_node"]]
    candidates = [n for n in nodes if n["master_candidate"]]
    groups = data["nodegroups"]

    def lines(items: list[str]) -> str:
        return "".join(f"{item}\n" for item in items)

    return {
        "cluster_name": cluster["cluster_name"] + "\n",
        "cluster_tags": lines(sorted(cluster["tags"])),
        "master_ip": cluster["master_ip"] + "\n",
        "master_netdev": cluster["master_netdev"] + "\n",
        "master_node": master["name"] + "\n",
        "master_candidates": lines([n["name"] for n in candidates]),
        "master_candidates_ips": lines([n["primary_ip"] for n in candidates]),
        "node_list": lines([n["name"] for n in nodes]),
        "node_primary_ips": lines([f"{n['name']} {n['primary_ip']}" for n in nodes]),
        "node_secondary_ips": lines([f"{n['name']} {n['secondary_ip']}" for n in nodes]),
        "online_nodes": lines([n["name"] for n in nodes if not n["offline"]]),
        "offline_nodes": lines([n["name"] for n in nodes if n["offline"]]),
        "vm_capable_nodes": lines([n["name"] for n in nodes if n["vm_capable"]]),
        "nodegroups": lines(sorted(f"{uuid} {g['name']}" for uuid, g in groups.items())),
        "instance_list": lines(sorted(i["name"] for i in data["instances"].values())),
        "file_storage_dir": cluster["file_storage_dir"] + "\n",
        "shared_file_storage_dir": cluster["shared_file_storage_dir"] + "\n",
        "hypervisor_list": lines(cluster["enabled_hypervisors"]),
        "enabled_disk_templates": lines(cluster["enabled_disk_templates"]),
        "release_version": __version__ + "\n",
        "config_serial": f"{data['serial_no']}\n",
    }


# Keys whose change alone does not make it worth contacting every node (they still travel with
# the next push of anything else).
VOLATILE = frozenset({"config_serial"})


def write_local(vals: dict[str, str], directory: Path | None = None) -> None:
    """Write the ssconf files into this node's data dir (made 0700 if missing).

    Each file is replaced atomically with mode :data:`FILE_MODE`; a failed write raises an
    :class:`OSError` naming the file and leaves no temp file.
    """
    directory = directory or settings.paths().data_dir
    ensure_dir(directory)
    for key, content in vals.items():
        atomic_write(directory / (PREFIX + key), content.encode(), mode=FILE_MODE, sync=False)


def read(key: str, directory: Path | None = None) -> str | None:
    """One ssconf value of this node (stripped), or None if the file is missing."""
    directory = directory or settings.paths().data_dir
    try:
        return (directory / (PREFIX + key)).read_text().strip()
    except OSError:
        return None


def read_list(key: str, directory: Path | None = None) -> list[str]:
    """A one-item-per-line ssconf value as a list."""
    text = read(key, directory)
    return [line for line in (text or "").splitlines() if line.strip()]
