# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP004, UP009, UP010, UP031, E402 -- Ansible plugin conventions

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: rapi
short_description: The nodes and instances of a gnt.cluster (Ganeti) cluster
description:
  - Reads the cluster's nodes and instances through its remote API (Ganeti RAPI v2) and
    makes them hosts, grouped by node group, primary node, status, disk template, OS and
    tags; the remote API's fields become host variables.
  - Works from C(ansible-inventory)/C(ansible-playbook) and as an AWX inventory source.
  - The configuration file's name must end in C(gnt_rapi.yml) or C(gnt_rapi.yaml) (or
    C(.gnt_rapi.yml)).
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: This plugin's name.
    required: true
    choices: [gnt.cluster.rapi]
  host:
    description: The cluster's master (name or address) where gnt-rapi listens.
    type: str
    default: localhost
    env:
      - name: GNT_RAPI_HOST
  port:
    description: The remote API's port.
    type: int
    default: 5080
    env:
      - name: GNT_RAPI_PORT_NUMBER
  user:
    description: A user of the cluster's RAPI users file (reads need none unless the
      daemon requires authentication).
    type: str
    env:
      - name: GNT_RAPI_USER
  password:
    description: The user's password.
    type: str
    env:
      - name: GNT_RAPI_PASSWORD
  validate_certs:
    description: Check the server's certificate.
    type: bool
    default: true
  ca_path:
    description: CA file to check the certificate with (a copy of the cluster's rapi.pem).
    type: path
    env:
      - name: GNT_RAPI_CA_PATH
  timeout:
    description: Seconds one request may take.
    type: int
    default: 60
  want_nodes:
    description: Make the nodes hosts (group C(gnt_nodes)).
    type: bool
    default: true
  want_instances:
    description: Make the instances hosts (group C(gnt_instances)).
    type: bool
    default: true
"""

EXAMPLES = r"""
# inventory/cluster.gnt_rapi.yml
plugin: gnt.cluster.rapi
host: cluster.example.org
ca_path: /etc/ssl/gnt/rapi.pem
keyed_groups:
  - key: gnt.beparams.vcpus | string
    prefix: vcpus
compose:
  ansible_host: gnt.name
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: /tmp/gnt-inventory
"""

from ansible.errors import AnsibleParserError
from ansible.inventory.group import to_safe_group_name
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.gnt.cluster.plugins.module_utils.rapi_client import (
    RapiClient,
    RapiError,
)

# Host variable holding a host's remote API fields.
FACTS_VAR = "gnt"


def group_names(kind, host):
    """The generated groups of a host (``kind`` is node or instance), unsanitised."""
    if kind == "node":
        names = ["gnt_nodes", "gnt_role_%s" % host.get("role")]
        names.append("gnt_group_%s" % host.get("group_name"))
        return names
    names = ["gnt_instances", "gnt_node_%s" % host.get("pnode"),
             "gnt_status_%s" % host.get("status"),
             "gnt_template_%s" % host.get("disk_template"),
             "gnt_group_%s" % host.get("group_name")]
    if host.get("os"):
        names.append("gnt_os_%s" % host["os"])
    names.extend("gnt_tag_%s" % tag for tag in host.get("tags") or [])
    return names


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """Hosts and groups from the remote API."""

    NAME = "gnt.cluster.rapi"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(
            ("gnt_rapi.yml", "gnt_rapi.yaml"))

    def _fetch(self):
        client = RapiClient(host=self.get_option("host"), port=self.get_option("port"),
                            user=self.get_option("user"), password=self.get_option("password"),
                            validate_certs=self.get_option("validate_certs"),
                            ca_path=self.get_option("ca_path"),
                            timeout=self.get_option("timeout"))
        try:
            groups = client.request("GET", "/2/groups", [("bulk", 1)])
            nodes = client.request("GET", "/2/nodes", [("bulk", 1)]) \
                if self.get_option("want_nodes") or self.get_option("want_instances") else []
            instances = client.request("GET", "/2/instances", [("bulk", 1)]) \
                if self.get_option("want_instances") else []
        except RapiError as err:
            raise AnsibleParserError("gnt.cluster.rapi: %s" % err) from err
        return {"groups": groups, "nodes": nodes, "instances": instances}

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        data = None
        if use_cache:
            try:
                data = self._cache[cache_key]
            except KeyError:
                data = None
        if data is None:
            data = self._fetch()
            if self.get_option("cache"):
                self._cache[cache_key] = data
        self._populate(data)

    def _populate(self, data):
        group_of_uuid = dict((g.get("uuid"), g.get("name")) for g in data["groups"])
        node_group = {}
        for node in data["nodes"]:
            node = dict(node, group_name=group_of_uuid.get(node.get("group.uuid")))
            node_group[node["name"]] = node["group_name"]
            if self.get_option("want_nodes"):
                self._add_host("node", node)
        if self.get_option("want_instances"):
            for instance in data["instances"]:
                self._add_host("instance", dict(instance,
                                                group_name=node_group.get(instance.get("pnode"))))

    def _add_host(self, kind, facts):
        name = facts["name"]
        self.inventory.add_host(name)
        self.inventory.set_variable(name, FACTS_VAR, facts)
        self.inventory.set_variable(name, "gnt_kind", kind)
        for group in group_names(kind, facts):
            safe = to_safe_group_name(group, force=True, silent=True)
            self.inventory.add_group(safe)
            self.inventory.add_child(safe, name)
        strict = self.get_option("strict")
        variables = dict(facts=facts, gnt=facts, gnt_kind=kind)
        self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), variables, name,
                                          strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name,
                                       strict=strict)
