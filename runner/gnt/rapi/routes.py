"""The remote API's URL table: every path of Ganeti's RAPI v2, its methods, the access each
needs and the resource that answers (one declarative table, as Ganeti's connector).

A method whose operation does not exist here yet maps to ``None``: it answers 501 naming the
path, and becomes real when the operation lands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gnt.rapi import filters as f
from gnt.rapi import opresources as o
from gnt.rapi import query as q
from gnt.rapi import resources as r
from gnt.rapi.auth import ACCESS_READ, ACCESS_WRITE

NAME = r"[\w\._-]+"        # Ganeti's pattern of node, instance, group and network names
JOB_ID = r"\d+"
DISK = r"\d+"

# Access of each method unless a route says otherwise (Ganeti's defaults): reads are open
# (unless the daemon requires authentication), changes need the write option.
DEFAULT_ACCESS = {"GET": (), "PUT": (ACCESS_WRITE,), "POST": (ACCESS_WRITE,),
                  "DELETE": (ACCESS_WRITE,)}


@dataclass(frozen=True)
class Method:
    """One method of a path: its resource (None: not implemented yet) and access."""

    resource: r.Resource | None
    access: tuple[str, ...] | None = None   # None: DEFAULT_ACCESS of the method

    def needs(self, method: str) -> tuple[str, ...]:
        return DEFAULT_ACCESS[method] if self.access is None else self.access


@dataclass(frozen=True)
class Route:
    """A path pattern (``{}`` stands for each variable part) and its methods."""

    name: str                      # Ganeti's resource name without R_2_ (reason trail)
    template: str
    parts: tuple[str, ...]
    methods: dict[str, Method]

    @property
    def regex(self) -> re.Pattern[str]:
        pattern = re.escape(self.template).replace(r"\{\}", "{}")
        return re.compile("^" + pattern.format(*(f"({p})" for p in self.parts)) + "$")


TODO = Method(None)
_INST, _GROUP, _NET = ("instance_name",), ("group_name",), ("network_name",)
WRITE_GET = (ACCESS_WRITE,)
READ_GET = (ACCESS_WRITE, ACCESS_READ)


def _route(name: str, template: str, parts: tuple[str, ...] = (), **methods: Method) -> Route:
    return Route(name, template, parts, methods)


def _tags(name: str, template: str, parts: tuple[str, ...], get: r.Resource, put: r.Resource,
          delete: r.Resource) -> Route:
    return _route(name, template, parts, GET=Method(get), PUT=Method(put),
                  DELETE=Method(delete))


ROUTES: list[Route] = [
    _route("root", "/", GET=Method(r.get_root)),
    _route("2", "/2", GET=Method(r.get_root)),
    _route("version", "/version", GET=Method(r.get_version)),
    _route("info", "/2/info", GET=Method(r.get_info)),
    _route("features", "/2/features", GET=Method(r.get_features)),
    _route("os", "/2/os", GET=Method(r.get_os)),
    _route("cluster_modify", "/2/modify", PUT=Method(o.body_op("OP_CLUSTER_SET_PARAMS"))),
    _route("redist_config", "/2/redistribute-config",
           PUT=Method(o.body_op("OP_CLUSTER_REDIST_CONF"))),
    _tags("tags", "/2/tags", (), r.get_cluster_tags, r.put_cluster_tags,
          r.delete_cluster_tags),
    # jobs
    _route("jobs", "/2/jobs", GET=Method(r.get_jobs)),
    _route("jobs_id", "/2/jobs/{}", (JOB_ID,), GET=Method(r.get_job),
           DELETE=Method(r.delete_job)),
    _route("jobs_id_wait", "/2/jobs/{}/wait", (JOB_ID,),
           GET=Method(r.get_job_wait, WRITE_GET)),
    # nodes
    _route("nodes", "/2/nodes", GET=Method(r.get_nodes)),
    _route("nodes_name", "/2/nodes/{}", (NAME,), GET=Method(r.get_node)),
    _route("nodes_name_powercycle", "/2/nodes/{}/powercycle", (NAME,),
           POST=Method(o.body_op("OP_NODE_POWERCYCLE", ("node_name",), flags={"force": "force"}))),
    _tags("nodes_name_tags", "/2/nodes/{}/tags", (NAME,), r.get_node_tags, r.put_node_tags,
          r.delete_node_tags),
    _route("nodes_name_role", "/2/nodes/{}/role", (NAME,), GET=Method(r.get_node_role),
           PUT=Method(o.set_node_role)),
    _route("nodes_name_evacuate", "/2/nodes/{}/evacuate", (NAME,),
           POST=Method(o.body_op("OP_NODE_EVACUATE", ("node_name",)))),
    _route("nodes_name_migrate", "/2/nodes/{}/migrate", (NAME,), POST=Method(o.migrate_node)),
    _route("nodes_name_modify", "/2/nodes/{}/modify", (NAME,),
           POST=Method(o.body_op("OP_NODE_SET_PARAMS", ("node_name",)))),
    _route("nodes_name_storage", "/2/nodes/{}/storage", (NAME,),
           GET=Method(o.node_storage, WRITE_GET)),
    _route("nodes_name_storage_modify", "/2/nodes/{}/storage/modify", (NAME,),
           PUT=Method(o.modify_node_storage)),
    _route("nodes_name_storage_repair", "/2/nodes/{}/storage/repair", (NAME,),
           PUT=Method(o.repair_node_storage)),
    # instances
    _route("instances", "/2/instances", GET=Method(r.get_instances),
           POST=Method(o.create_instance)),
    _route("instances_multi_alloc", "/2/instances-multi-alloc", POST=Method(o.multi_alloc)),
    _route("instances_name", "/2/instances/{}", (NAME,), GET=Method(r.get_instance),
           DELETE=Method(o.body_op("OP_INSTANCE_REMOVE", _INST))),
    _route("instances_name_info", "/2/instances/{}/info", (NAME,),
           GET=Method(r.get_instance_info)),
    _tags("instances_name_tags", "/2/instances/{}/tags", (NAME,), r.get_instance_tags,
          r.put_instance_tags, r.delete_instance_tags),
    _route("instances_name_reboot", "/2/instances/{}/reboot", (NAME,),
           POST=Method(o.reboot_instance)),
    _route("instances_name_reinstall", "/2/instances/{}/reinstall", (NAME,),
           POST=Method(o.reinstall_instance)),
    _route("instances_name_replace_disks", "/2/instances/{}/replace-disks", (NAME,),
           POST=Method(o.replace_disks)),
    _route("instances_name_shutdown", "/2/instances/{}/shutdown", (NAME,),
           PUT=Method(o.body_op("OP_INSTANCE_SHUTDOWN", _INST,
                                flags={"no_remember": "no_remember"}))),
    _route("instances_name_startup", "/2/instances/{}/startup", (NAME,),
           PUT=Method(o.body_op("OP_INSTANCE_STARTUP", _INST,
                                flags={"force": "force", "no_remember": "no_remember"}))),
    _route("instances_name_activate_disks", "/2/instances/{}/activate-disks", (NAME,),
           PUT=Method(o.body_op("OP_INSTANCE_ACTIVATE_DISKS", _INST,
                                flags={"ignore_size": "ignore_size"}))),
    _route("instances_name_deactivate_disks", "/2/instances/{}/deactivate-disks", (NAME,),
           PUT=Method(o.body_op("OP_INSTANCE_DEACTIVATE_DISKS", _INST,
                                flags={"force": "force"}))),
    _route("instances_name_recreate_disks", "/2/instances/{}/recreate-disks", (NAME,),
           POST=Method(o.body_op("OP_INSTANCE_RECREATE_DISKS", _INST))),
    _route("instances_name_prepare_export", "/2/instances/{}/prepare-export", (NAME,),
           PUT=Method(o.prepare_export)),
    _route("instances_name_export", "/2/instances/{}/export", (NAME,),
           PUT=Method(o.body_op("OP_BACKUP_EXPORT", _INST, {"destination": "target_node"}))),
    _route("instances_name_migrate", "/2/instances/{}/migrate", (NAME,),
           PUT=Method(o.body_op("OP_INSTANCE_MIGRATE", _INST))),
    _route("instances_name_failover", "/2/instances/{}/failover", (NAME,),
           PUT=Method(o.body_op("OP_INSTANCE_FAILOVER", _INST))),
    _route("instances_name_rename", "/2/instances/{}/rename", (NAME,),
           PUT=Method(o.body_op("OP_INSTANCE_RENAME", _INST))),
    _route("instances_name_modify", "/2/instances/{}/modify", (NAME,),
           PUT=Method(o.body_op("OP_INSTANCE_SET_PARAMS", _INST))),
    _route("instances_name_disk_grow", "/2/instances/{}/disk/{}/grow", (NAME, DISK),
           POST=Method(o.grow_disk)),
    _route("instances_name_console", "/2/instances/{}/console", (NAME,),
           GET=Method(r.get_instance_console, READ_GET)),
    # groups
    _route("groups", "/2/groups", GET=Method(r.get_groups),
           POST=Method(o.body_op("OP_GROUP_ADD", rename={"name": "group_name"}))),
    _route("groups_name", "/2/groups/{}", (NAME,), GET=Method(r.get_group),
           DELETE=Method(o.body_op("OP_GROUP_REMOVE", _GROUP))),
    _route("groups_name_modify", "/2/groups/{}/modify", (NAME,),
           PUT=Method(o.body_op("OP_GROUP_SET_PARAMS", _GROUP))),
    _route("groups_name_rename", "/2/groups/{}/rename", (NAME,),
           PUT=Method(o.body_op("OP_GROUP_RENAME", _GROUP))),
    _route("groups_name_assign_nodes", "/2/groups/{}/assign-nodes", (NAME,),
           PUT=Method(o.body_op("OP_GROUP_ASSIGN_NODES", _GROUP))),
    _tags("groups_name_tags", "/2/groups/{}/tags", (NAME,), r.get_group_tags,
          r.put_group_tags, r.delete_group_tags),
    # networks (Ganeti 3.0 has no network rename: that path, from 3.1, answers 501)
    _route("networks", "/2/networks", GET=Method(r.get_networks),
           POST=Method(o.body_op("OP_NETWORK_ADD", rename={"name": "network_name"}))),
    _route("networks_name", "/2/networks/{}", (NAME,), GET=Method(r.get_network),
           DELETE=Method(o.body_op("OP_NETWORK_REMOVE", _NET))),
    _route("networks_name_connect", "/2/networks/{}/connect", (NAME,),
           PUT=Method(o.body_op("OP_NETWORK_CONNECT", _NET))),
    _route("networks_name_disconnect", "/2/networks/{}/disconnect", (NAME,),
           PUT=Method(o.body_op("OP_NETWORK_DISCONNECT", _NET))),
    _route("networks_name_rename", "/2/networks/{}/rename", (NAME,), PUT=TODO),
    _route("networks_name_modify", "/2/networks/{}/modify", (NAME,),
           PUT=Method(o.body_op("OP_NETWORK_SET_PARAMS", _NET))),
    _tags("networks_name_tags", "/2/networks/{}/tags", (NAME,), r.get_network_tags,
          r.put_network_tags, r.delete_network_tags),
    # queries and filters
    _route("query", "/2/query/{}", (NAME,), GET=Method(q.get_query, READ_GET),
           PUT=Method(q.put_query, READ_GET)),
    _route("query_fields", "/2/query/{}/fields", (NAME,), GET=Method(q.get_query_fields)),
    _route("filters", "/2/filters", GET=Method(f.get_filters), POST=Method(f.post_filters)),
    _route("filters_uuid", "/2/filters/{}", (NAME,), GET=Method(f.get_filter),
           PUT=Method(f.put_filter), DELETE=Method(f.delete_filter)),
]

_COMPILED = [(route.regex, route) for route in ROUTES]


def match(path: str) -> tuple[Route, list[str]] | None:
    """The route of ``path`` and its variable parts, or None (404)."""
    for regex, route in _COMPILED:
        found = regex.match(path)
        if found:
            return route, list(found.groups())
    return None
