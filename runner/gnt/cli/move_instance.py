"""move-instance: move instances between clusters, talking to both only through their RAPIs.

``move-instance [options] SOURCE-CLUSTER DEST-CLUSTER INSTANCE...``. Per instance, as Ganeti's
tool: the source's instance data and tags, ``prepare-export?mode=remote`` on the source (the
handshake, a signed key name and certificate), the instance created on the destination in
remote-import mode (its job announces the signed per-disk connection information in a
``remote-import`` log entry), then the source's remote export to those destinations. Both
clusters check every signed value against the cluster domain secret they share.

Unlike a plain export with ``remove_instance``, the source instance is removed only after the
destination's job succeeded (a verified move): it is shut down first, exported, and removed
then; a failed move starts it again when it was running. ``--keep-source-instance`` exports
with the usual shutdown and restart. Exit code 0 only when every move succeeded.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from gnt.cli._rapi_http import HTTP_NOT_FOUND, JobError, Rapi, RapiError
from gnt.core.jobstate import ELOG_REMOTE_IMPORT

LOG = logging.getLogger("move-instance")
DEFAULT_RAPI_PORT = 5080
EXIT_SUCCESS, EXIT_FAILURE = 0, 1
# options that only make sense for one instance
SINGLE_OPTIONS = ("dest_instance_name", "dest_primary_node", "dest_secondary_node",
                  "hvparams", "beparams", "osparams", "nics")


class MoveError(Exception):
    """A move that failed; the message says where."""


def _keyval(text: str) -> dict[str, str]:
    """``key=value,key=value`` (Ganeti's keyval options)."""
    result: dict[str, str] = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"invalid parameter '{item}': want key=value")
        result[key.strip()] = value
    return result


def _nic(text: str) -> tuple[int, dict[str, str]]:
    """``--net N:key=value,...``."""
    index, sep, rest = text.partition(":")
    if not index.isdigit():
        raise argparse.ArgumentTypeError(f"invalid --net '{text}': want INDEX:key=value,...")
    return int(index), _keyval(rest) if sep else {}


def build_parser() -> argparse.ArgumentParser:
    """Every option of move-instance (Ganeti 3.0's)."""
    p = argparse.ArgumentParser(
        prog="move-instance",
        usage="%(prog)s [options] <source-cluster> <destination-cluster> <instance-name...>",
        description="Move instances between clusters through their remote APIs.")
    p.add_argument("src_cluster", metavar="source-cluster")
    p.add_argument("dest_cluster", metavar="destination-cluster")
    p.add_argument("instances", metavar="instance-name", nargs="+")
    p.add_argument("--src-rapi-port", type=int, default=DEFAULT_RAPI_PORT,
                   help=f"Source cluster RAPI port (defaults to {DEFAULT_RAPI_PORT})")
    p.add_argument("--src-ca-file", help="File containing source cluster Certificate"
                   " Authority (CA) in PEM format")
    p.add_argument("--src-username", help="Source cluster username")
    p.add_argument("--src-password-file", help="File containing source cluster password")
    p.add_argument("--dest-rapi-port", type=int, default=None,
                   help="Destination cluster RAPI port (defaults to source cluster RAPI port)")
    p.add_argument("--dest-ca-file", help="File containing destination cluster Certificate"
                   " Authority (CA) in PEM format (defaults to source cluster CA)")
    p.add_argument("--dest-username", help="Destination cluster username (defaults to source"
                   " cluster username)")
    p.add_argument("--dest-password-file", help="File containing destination cluster password"
                   " (defaults to source cluster password)")
    p.add_argument("--dest-instance-name", help="Instance name on destination cluster (only"
                   " when moving exactly one instance)")
    p.add_argument("--dest-primary-node", help="Primary node on destination cluster (only"
                   " when moving exactly one instance)")
    p.add_argument("--dest-secondary-node", help="Secondary node on destination cluster (only"
                   " when moving exactly one instance)")
    p.add_argument("--dest-disk-template", help="Disk template to use on destination cluster")
    p.add_argument("--compress", default="none", help="Compression mode to use during the"
                   " move (this mode has to be supported by both clusters)")
    p.add_argument("--iallocator", help="Instance allocator on destination cluster")
    p.add_argument("-H", "--hypervisor-parameters", dest="hvparams", type=_keyval,
                   help="Hypervisor parameters to override (only for one instance)")
    p.add_argument("-B", "--backend-parameters", dest="beparams", type=_keyval,
                   help="Backend parameters to override (only for one instance)")
    p.add_argument("--os-parameters", dest="osparams", type=_keyval,
                   help="OS parameters to override (only for one instance)")
    p.add_argument("--net", dest="nics", type=_nic, action="append",
                   help="NIC parameters to override, INDEX:key=value,... (only for one"
                   " instance)")
    p.add_argument("-p", "--parallel", type=int, default=1,
                   help="Number of instance moves to run in parallel")
    p.add_argument("--keep-source-instance", action="store_true",
                   help="Keep the instance on the source cluster")
    p.add_argument("-v", "--verbose", action="store_true", help="Increase the verbosity")
    p.add_argument("-d", "--debug", action="store_true", help="Enable debug output")
    return p


def check_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Ganeti's option rules; a violation is a usage error (exit code 2)."""
    if len(args.instances) > 1:
        given = [name for name in SINGLE_OPTIONS if getattr(args, name)]
        if given:
            flags = ", ".join("--" + {"hvparams": "hypervisor-parameters",
                                      "beparams": "backend-parameters",
                                      "osparams": "os-parameters",
                                      "nics": "net"}.get(n, n.replace("_", "-"))
                              for n in given)
            parser.error(f"The options {flags} can only be used when moving exactly one"
                         " instance")
    if args.iallocator and (args.dest_primary_node or args.dest_secondary_node):
        parser.error("Do not specify both iallocator and primary/secondary node")
    if args.parallel < 1:
        parser.error("Number of simultaneous moves must be larger than zero")
    for path in (args.src_password_file, args.dest_password_file):
        if path is not None:
            try:
                open(path, encoding="utf-8").close()
            except OSError as err:
                parser.error(f"Cannot read the password file {path}: {err.strerror}")


def _password(path: str | None) -> str | None:
    if path is None:
        return None
    with open(path, encoding="utf-8") as handle:
        return handle.readline().rstrip("\n")


def clients(args: argparse.Namespace) -> tuple[Rapi, Rapi]:
    """The source and destination RAPI clients (destination options default to the
    source's)."""
    src_password = _password(args.src_password_file)
    dest_password = (_password(args.dest_password_file) if args.dest_password_file
                     else src_password)
    src = Rapi(args.src_cluster, args.src_rapi_port, args.src_username, src_password,
               args.src_ca_file)
    dest = Rapi(args.dest_cluster, args.dest_rapi_port or args.src_rapi_port,
                args.dest_username or args.src_username, dest_password,
                args.dest_ca_file or args.src_ca_file)
    return src, dest


@dataclass
class Move:
    """One instance's move and what it learnt on the way."""

    src_name: str
    dest_name: str
    pnode: str | None = None
    snode: str | None = None
    import_info: dict[str, Any] | None = None
    got_info: threading.Event = field(default_factory=threading.Event)
    failed: threading.Event = field(default_factory=threading.Event)


def creation_body(move: Move, args: argparse.Namespace, inst: dict[str, Any],
                  prepared: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    """The destination's remote-import instance creation (RAPI body version 1)."""
    keys = ("ip", "mac", "mode", "link", "vlan", "network", "name")
    nics = [{key: nic.get(key) for key in keys if nic.get(key) not in (None, "")}
            for nic in inst.get("nics") or []]
    for index, override in args.nics or []:
        if index >= len(nics):
            raise MoveError(f"--net {index}: the instance has {len(nics)} NIC(s)")
        nics[index].update(override)
    disks = [{"size": disk["size"], "mode": disk.get("mode") or "rw"}
             for disk in inst.get("disks") or []]
    return {"__version__": 1, "mode": "remote-import", "name": move.dest_name,
            "disk_template": args.dest_disk_template or inst["disk_template"],
            "disks": disks, "nics": nics, "os": inst.get("os") or None,
            "pnode": move.pnode, "snode": move.snode, "iallocator": args.iallocator,
            "start": inst.get("config_state") == "up", "ip_check": False,
            "hypervisor": inst.get("hypervisor"),
            "source_handshake": prepared["handshake"], "source_x509_ca": prepared["x509_ca"],
            "source_instance_name": inst["name"], "compress": args.compress,
            "beparams": {**inst.get("be_instance", inst.get("beparams") or {}),
                         **(args.beparams or {})},
            "hvparams": {**inst.get("hv_instance", inst.get("hvparams") or {}),
                         **(args.hvparams or {})},
            "osparams": {**inst.get("os_instance", inst.get("osparams") or {}),
                         **(args.osparams or {})},
            "tags": tags, "wait_for_sync": False}


def move_one(src: Rapi, dest: Rapi, move: Move, args: argparse.Namespace) -> None:
    """Move one instance; MoveError (or RapiError/JobError) when it failed."""
    name = move.src_name
    try:
        src.request("GET", f"/2/instances/{name}")
    except RapiError as err:
        if err.code == HTTP_NOT_FOUND:
            raise MoveError(f"Instance {name} not found ({err})") from err
        raise
    LOG.info("[%s] retrieving instance information from the source cluster", name)
    job = src.request("GET", f"/2/instances/{name}/info", {"static": 1})
    inst = next(iter(src.wait_job(job)[0].values()))
    tags = list(src.request("GET", f"/2/instances/{name}").get("tags") or [])
    LOG.info("[%s] preparing the export on the source cluster", name)
    prepared = src.wait_job(src.request("PUT", f"/2/instances/{name}/prepare-export",
                                        {"mode": "remote"}))[0]
    body = creation_body(move, args, inst, prepared, tags)
    LOG.info("[%s] creating instance %s in remote-import mode", name, move.dest_name)
    dest_job = dest.request("POST", "/2/instances", body=body)
    outcome: dict[str, Any] = {}

    def follow_dest() -> None:
        try:
            outcome["result"] = dest.wait_job(dest_job, lambda e: _import_log(move, e))
        except (RapiError, JobError) as err:
            outcome["error"] = err
        finally:
            move.failed.set()       # wakes the waiter below whatever happened
    follower = threading.Thread(target=follow_dest, daemon=True)
    follower.start()
    while not move.got_info.is_set() and not move.failed.is_set():
        move.got_info.wait(0.2)
    if move.import_info is None:
        follower.join()
        raise MoveError(f"the destination's job {dest_job} ended without announcing where to"
                        f" send the disks: {outcome.get('error', 'no remote-import entry')}")
    was_running = inst.get("config_state") == "up"
    keep = args.keep_source_instance
    if not keep and was_running:
        LOG.info("[%s] shutting down the source instance", name)
        src.wait_job(src.request("PUT", f"/2/instances/{name}/shutdown"))
    try:
        LOG.info("[%s] starting the remote export on the source cluster", name)
        export = src.request("PUT", f"/2/instances/{name}/export", body={
            "mode": "remote", "destination": move.import_info["disks"], "shutdown": True,
            "remove_instance": False, "x509_key_name": prepared["x509_key_name"],
            "destination_x509_ca": move.import_info["x509_ca"], "compress": args.compress})
        finished, disks = src.wait_job(export, lambda e: _progress(name, e))[0]
        if not (finished and all(disks)):
            failed = [str(i) for i, ok in enumerate(disks) if not ok]
            raise MoveError(f"Export failed for disks {', '.join(failed)}")
        follower.join()
        if "error" in outcome:
            raise MoveError(f"the import on the destination failed: {outcome['error']}")
    except BaseException:
        if not keep and was_running:
            _restart(src, name)
        raise
    if not keep:
        LOG.info("[%s] removing the source instance", name)
        src.wait_job(src.request("DELETE", f"/2/instances/{name}"))


def _import_log(move: Move, entry: list[Any]) -> None:
    _serial, _stamp, log_type, message = entry[:4]
    if log_type == ELOG_REMOTE_IMPORT:
        if not isinstance(message, dict) or "disks" not in message or "x509_ca" not in message:
            raise MoveError(f"invalid remote import information: {message!r:.100}")
        move.import_info = message
        move.got_info.set()
    else:
        LOG.info("[%s] destination: %s", move.dest_name, message)


def _progress(name: str, entry: list[Any]) -> None:
    LOG.info("[%s] source: %s", name, entry[3])


def _restart(src: Rapi, name: str) -> None:
    LOG.warning("[%s] the move failed: starting the source instance again", name)
    try:
        src.wait_job(src.request("PUT", f"/2/instances/{name}/startup"))
    except (RapiError, JobError) as err:
        LOG.error("[%s] could not start the source instance again: %s", name, err)


def run_moves(args: argparse.Namespace, src: Rapi, dest: Rapi) -> int:
    """Every move, ``--parallel`` at a time; the exit code."""
    moves = [Move(name, args.dest_instance_name or name, args.dest_primary_node,
                  args.dest_secondary_node) for name in args.instances]
    failures: dict[str, str] = {}

    def run(move: Move) -> None:
        started = time.monotonic()
        try:
            move_one(src, dest, move, args)
            LOG.info("[%s] moved to %s as %s in %.1f s", move.src_name, dest.host,
                     move.dest_name, time.monotonic() - started)
        except (MoveError, RapiError, JobError, KeyError, TypeError, ValueError) as err:
            failures[move.src_name] = str(err)
            LOG.error("[%s] move failed: %s", move.src_name, err)

    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        list(pool.map(run, moves))
    for move in moves:
        status = f"failed: {failures[move.src_name]}" if move.src_name in failures \
            else "success"
        print(f"{move.src_name}: {status}")
    return EXIT_FAILURE if failures else EXIT_SUCCESS


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``move-instance``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    check_options(parser, args)
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s: %(message)s", stream=sys.stderr)
    src, dest = clients(args)
    return run_moves(args, src, dest)


if __name__ == "__main__":
    sys.exit(main())
