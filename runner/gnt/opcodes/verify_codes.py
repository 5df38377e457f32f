"""Ganeti's ``gnt-cluster verify`` error codes: the one table of them, and the report line.

Each finding of verify carries one code (``ENODELVM``, ``EINSTANCEDOWN`` ...): the code says
which kind of item the finding is about (cluster, group, node or instance), ``--error-codes``
prints it (``  - ERROR:ENODELVM:node:node2:...``), and ``--ignore-errors CODE`` (the opcode's
``ignore_errors``) turns that code's errors into warnings that do not fail the verify.

The codes and their item kinds are Ganeti's (its ``CV_E*`` constants), so scripts written for
Ganeti's output and ``-I`` options work unchanged; the descriptions are ours. Every code Ganeti
accepts for ``-I`` is here, also those no check of this version reports (their checks cover
features not implemented, e.g. OOB paths, hooks, exclusion tags).

The table lives with the opcodes (not with the verify LU) because the opcode check and the
``gnt-cluster verify`` options use it too, and neither may import the LUs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, NamedTuple

from gnt.core.errors import ECODE_INVAL, OpPrereqError

ERROR = "ERROR"
WARNING = "WARNING"

IT_CLUSTER = "cluster"
IT_GROUP = "group"
IT_NODE = "node"
IT_INSTANCE = "instance"


class VerifyCode(NamedTuple):
    """One verify error code: its name, the kind of item it is about, what it means."""

    name: str
    item: str
    description: str


CODES: dict[str, VerifyCode] = {}


def _code(name: str, item: str, description: str) -> VerifyCode:
    code = VerifyCode(name, item, description)
    CODES[name] = code
    return code


ECLUSTERCERT = _code("ECLUSTERCERT", IT_CLUSTER, "the cluster's certificate files are bad")
ECLUSTERCLIENTCERT = _code("ECLUSTERCLIENTCERT", IT_CLUSTER,
                           "the nodes' client certificates are bad")
ECLUSTERCFG = _code("ECLUSTERCFG", IT_CLUSTER, "the cluster configuration is inconsistent")
ECLUSTERDANGLINGINST = _code("ECLUSTERDANGLINGINST", IT_NODE,
                             "instances whose primary node does not exist")
ECLUSTERDANGLINGNODES = _code("ECLUSTERDANGLINGNODES", IT_NODE,
                              "nodes in a node group that does not exist")
ECLUSTERFILECHECK = _code("ECLUSTERFILECHECK", IT_CLUSTER,
                          "the cluster's files differ between nodes")
EGROUPDIFFERENTPVSIZE = _code("EGROUPDIFFERENTPVSIZE", IT_GROUP,
                              "physical volumes of a node group differ too much in size")
EINSTANCEBADNODE = _code("EINSTANCEBADNODE", IT_INSTANCE,
                         "an instance to be running lives on an unusable (offline) node")
EINSTANCEDOWN = _code("EINSTANCEDOWN", IT_INSTANCE,
                      "an instance is not running on its primary node")
EINSTANCEFAULTYDISK = _code("EINSTANCEFAULTYDISK", IT_INSTANCE,
                            "an instance disk is degraded or its status unknown")
EINSTANCELAYOUT = _code("EINSTANCELAYOUT", IT_INSTANCE,
                        "an instance has more than one secondary node")
EINSTANCEMISSINGCFGPARAMETER = _code("EINSTANCEMISSINGCFGPARAMETER", IT_INSTANCE,
                                     "an instance lacks a configuration parameter")
EINSTANCEMISSINGDISK = _code("EINSTANCEMISSINGDISK", IT_INSTANCE,
                             "an instance's volume or disk file is missing")
EINSTANCEPOLICY = _code("EINSTANCEPOLICY", IT_INSTANCE,
                        "an instance is outside its group's instance policy")
EINSTANCESPLITGROUPS = _code("EINSTANCESPLITGROUPS", IT_INSTANCE,
                             "an instance's nodes are in different node groups")
EINSTANCEUNSUITABLENODE = _code("EINSTANCEUNSUITABLENODE", IT_INSTANCE,
                                "an instance runs on nodes unsuitable for it")
EINSTANCEWRONGNODE = _code("EINSTANCEWRONGNODE", IT_INSTANCE,
                           "an instance runs on a node that is not its primary")
ENODEDRBD = _code("ENODEDRBD", IT_NODE, "a node's DRBD minors differ from the configuration")
ENODEDRBDHELPER = _code("ENODEDRBDHELPER", IT_NODE, "a node's DRBD usermode helper is wrong")
ENODEDRBDVERSION = _code("ENODEDRBDVERSION", IT_NODE,
                         "the DRBD versions of a node group's nodes differ")
ENODEFILECHECK = _code("ENODEFILECHECK", IT_NODE, "a node's copies of the cluster files are bad")
ENODEFILESTORAGEPATHS = _code("ENODEFILESTORAGEPATHS", IT_NODE,
                              "a file storage path is a forbidden one")
ENODEFILESTORAGEPATHUNUSABLE = _code("ENODEFILESTORAGEPATHUNUSABLE", IT_NODE,
                                     "a node's file storage directory is unusable")
ENODEHOOKS = _code("ENODEHOOKS", IT_NODE, "a node's hooks failed or did not run")
ENODEHV = _code("ENODEHV", IT_NODE, "a node's hypervisor failed its checks")
ENODELVM = _code("ENODELVM", IT_NODE, "a node's LVM is broken or lacks the volume group")
ENODEN1 = _code("ENODEN1", IT_NODE,
                "the other nodes lack the memory to take over a node's instances")
EEXTAGS = _code("EEXTAGS", IT_NODE, "instances with the same exclusion tag share a node")
ENODENET = _code("ENODENET", IT_NODE, "a node's network setup is wrong")
ENODEOOBPATH = _code("ENODEOOBPATH", IT_NODE, "a node's out-of-band program path is bad")
ENODEORPHANINSTANCE = _code("ENODEORPHANINSTANCE", IT_NODE,
                            "a node runs an instance the cluster does not know")
ENODEORPHANLV = _code("ENODEORPHANLV", IT_NODE,
                      "a node holds a volume (or disk file) no instance uses")
ENODEOS = _code("ENODEOS", IT_NODE, "a node's OS definitions are bad or differ")
ENODERPC = _code("ENODERPC", IT_NODE, "a node could not be asked")
ENODESETUP = _code("ENODESETUP", IT_NODE, "a node is set up wrongly")
ENODESHAREDFILESTORAGEPATHUNUSABLE = _code("ENODESHAREDFILESTORAGEPATHUNUSABLE", IT_NODE,
                                           "a node's shared file storage directory is unusable")
ENODEGLUSTERSTORAGEPATHUNUSABLE = _code("ENODEGLUSTERSTORAGEPATHUNUSABLE", IT_NODE,
                                        "a node's Gluster storage directory is unusable")
ENODESSH = _code("ENODESSH", IT_NODE, "SSH to or from a node is not set up right")
ENODETIME = _code("ENODETIME", IT_NODE, "a node's clock is off")
ENODEUSERSCRIPTS = _code("ENODEUSERSCRIPTS", IT_NODE, "a node lacks usable user scripts")
ENODEVERSION = _code("ENODEVERSION", IT_NODE, "a node runs another software version")

CODE_NAMES: tuple[str, ...] = tuple(sorted(CODES))


def names_check(allowed: Collection[str], listed: Sequence[str], what: str, field: str,
                title: str) -> Callable[[Any], bool]:
    """An opcode field check: a list of names of ``allowed``; an unknown one raises
    :class:`OpPrereqError` naming it, ``what`` it is and the opcode ``field``, with ``listed``
    as the names there are. ``title`` (the check's name) is what a wrong type is said to miss."""
    def check(value: Any) -> bool:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return False
        unknown = [item for item in value if item not in allowed]
        if unknown:
            raise OpPrereqError(f"Unknown {what}(s) {', '.join(map(repr, unknown))} in {field};"
                                f" the {what.split()[-1]}s are {', '.join(listed)}", ECODE_INVAL)
        return True

    check.__name__ = title
    return check


#: The opcode check of ``ignore_errors``: verify error code names.
t_verify_codes = names_check(CODES, CODE_NAMES, "verify error code", "ignore_errors",
                             "a list of verify error code names")


# Ganeti's optional checks (``skip_checks``, its VerifyOptionalChecks): the N+1 memory check
# (``--no-nplus1-mem``) and the assessment of the cluster's hypervisor parameters
# (``--no-hv-param-assessment``).
VERIFY_NPLUSONE_MEM = "nplusone_mem"
VERIFY_HVPARAM_ASSESSMENT = "hvparam_assessment"
VERIFY_OPTIONAL_CHECKS = (VERIFY_NPLUSONE_MEM, VERIFY_HVPARAM_ASSESSMENT)


#: The opcode check of ``skip_checks``: names of :data:`VERIFY_OPTIONAL_CHECKS`.
t_verify_skip_checks = names_check(VERIFY_OPTIONAL_CHECKS, VERIFY_OPTIONAL_CHECKS,
                                   "optional verify check", "skip_checks",
                                   "a list of optional verify checks")


def format_line(level: str, code: VerifyCode, name: str, message: str,
                error_codes: bool) -> str:
    """One report line as Ganeti prints it: ``  - ERROR: node node2: message``, or with
    ``error_codes`` the parseable ``  - ERROR:ENODELVM:node:node2:message``."""
    if error_codes:
        return f"  - {level}:{code.name}:{code.item}:{name}:{message}"
    return f"  - {level}: {code.item} {name}: {message}"
