"""``config.data``: load, validate, look up, change and write atomically.

One :class:`ConfigStore` lives in the master daemon. Every change goes through a method that
prepares the new object on a copy, swaps it in under the store's lock and writes the whole file
atomically (temp + fsync + rename, the previous version kept as ``config.data.prev``). If the
write fails, the in-memory state goes back to what the file holds, so memory never runs ahead of
the file.

The store remembers a digest of the bytes it last read or wrote. Before each write it checks that
the file on disk still holds them: a file changed or corrupted behind its back is never
overwritten (nor rotated into ``config.data.prev``); the change is refused with an error naming
the file, and logged. Temp files of an interrupted write are removed when the store loads.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from gnt.config import schema
from gnt.config.objects import stamp, touch
from gnt.config.tempips import TemporaryIps
from gnt.core import settings, ssconf
from gnt.core.errors import ECODE_NOENT, ECODE_NOTUNIQUE, ConfigError, OpPrereqError
from gnt.core.fileutil import atomic_write, remove_temp_files, temp_prefix

KINDS = ("nodes", "instances", "disks", "nodegroups", "networks")

LOG = logging.getLogger("gnt.config")


def previous_path(path: Path) -> Path:
    """Where the version before the current one is kept."""
    return path.with_name(path.name + ".prev")


def read_config(path: Path) -> dict[str, Any]:
    """Read and validate a config file; :class:`ConfigError` names what is wrong."""
    return parse_config(path, read_config_bytes(path))


def read_config_bytes(path: Path) -> bytes:
    """The raw bytes of a config file; :class:`ConfigError` if it is missing or unreadable."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"Cluster configuration {path} not found: is this node part of a"
                          " cluster? (gnt-cluster init creates one)") from None
    except OSError as err:
        raise ConfigError(f"Cannot read cluster configuration {path}: {err}") from err


def parse_config(path: Path, raw: bytes) -> dict[str, Any]:
    """Parse and validate the bytes of config file ``path``."""
    try:
        data = json.loads(raw)
    except ValueError as err:
        raise ConfigError(f"Cluster configuration {path} is not valid JSON: {err}") from err
    schema.validate(data)
    return data


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Delete temp files an interrupted write of config file ``path`` (or of the ssconf
    files beside it) left in its directory."""
    removed = remove_temp_files(path.parent, temp_prefix(path))
    removed += remove_temp_files(path.parent, "." + ssconf.PREFIX)
    keep_tmp = previous_path(path).with_name(previous_path(path).name + ".tmp")
    if keep_tmp.exists():
        keep_tmp.unlink()
        LOG.warning("Removed temp file %s left by an interrupted write", keep_tmp)
        removed.append(keep_tmp)
    return removed


def _digest(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def expand_name(candidates: Iterator[str] | list[str], name: str) -> str | None:
    """Ganeti's short-name expansion: an exact match, or the unique ``name.<domain>`` match."""
    prefix = name + "."
    matches = []
    for candidate in candidates:
        if candidate == name:
            return candidate
        if candidate.startswith(prefix):
            matches.append(candidate)
    if len(matches) > 1:
        raise OpPrereqError(f"Name '{name}' is ambiguous: {', '.join(sorted(matches))}",
                            ECODE_NOTUNIQUE)
    return matches[0] if matches else None


class ConfigStore:
    """The in-memory cluster configuration, backed by ``config.data``."""

    def __init__(self, path: Path, data: dict[str, Any], disk_blob: bytes | None = None) -> None:
        self.path = path
        self.data = data
        self.lock = threading.RLock()
        # The bytes last read from or written to ``path`` (None: not known, no check).
        self._disk_blob = disk_blob
        # Called with (data, file bytes) after every successful write, under the lock, and
        # with force=True by redistribute(): the master daemon replicates the config here.
        self.on_commit: Callable[..., Any] | None = None
        # Depth of nested transaction() blocks: only the outermost one writes.
        self._depth = 0
        # Addresses that running jobs took from network pools but have not written yet.
        self.temp_ips = TemporaryIps()

    # -- loading and writing -------------------------------------------------------------
    @classmethod
    def load(cls, path: Path | None = None) -> ConfigStore:
        """Load and validate the config of the current GNT_ROOT (or ``path``)."""
        path = path or settings.paths().config_file
        remove_stale_temp_files(path)
        raw = read_config_bytes(path)
        return cls(path, parse_config(path, raw), raw)

    @classmethod
    def create(cls, data: dict[str, Any], path: Path | None = None) -> ConfigStore:
        """Write a brand-new config; refuses to overwrite an existing one."""
        path = path or settings.paths().config_file
        if path.exists():
            raise ConfigError(f"Cluster configuration {path} already exists: this node is part"
                              " of a cluster (gnt-cluster destroy removes it)")
        schema.validate(data)
        remove_stale_temp_files(path)
        store = cls(path, data)
        store._write()
        return store

    def _write(self) -> bytes:
        blob = json.dumps(self.data, separators=(",", ":"), sort_keys=True).encode()
        try:
            atomic_write(self.path, blob, keep_previous=previous_path(self.path))
        except OSError as err:
            if self._on_disk() != blob:
                raise ConfigError(f"Cannot write cluster configuration {self.path}: {err}; the"
                                  " change was not made") from err
            LOG.warning("Cluster configuration %s written, but not synced: %s", self.path, err)
        self._disk_blob = blob
        return blob

    def _on_disk(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except OSError:
            return None

    def _check_unchanged_on_disk(self) -> None:
        """Refuse to write over a config file that is not what this store last read/wrote."""
        if self._disk_blob is None:
            return
        current = self._on_disk()
        if current is not None and _digest(current) == _digest(self._disk_blob):
            return
        what = "is missing or unreadable" if current is None else "was changed or corrupted"
        message = (f"Cluster configuration {self.path} {what} behind the master daemon's back"
                   f" (it last wrote serial {self._disk_serial()}); refusing to overwrite it or"
                   f" {previous_path(self.path).name}: restore the file (or restart the master"
                   " daemon to load it) and retry")
        LOG.error(message)
        raise ConfigError(message)

    def _disk_serial(self) -> Any:
        try:
            return json.loads(self._disk_blob or b"{}").get("serial_no", "?")
        except ValueError:
            return "?"

    def _rollback(self) -> None:
        if self._disk_blob is not None:
            self.data = json.loads(self._disk_blob)
        else:
            self.data = read_config(self.path)

    def _commit(self) -> None:
        """Bump the file serial and write; on failure memory goes back to the file's contents."""
        try:
            self._check_unchanged_on_disk()
            self.data["serial_no"] += 1
            self.data["mtime"] = time.time()
            blob = self._write()
        except BaseException:
            self._rollback()
            raise
        if self.on_commit is None:
            return
        try:
            self.on_commit(self.data, blob)
        except Exception as err:
            message = (f"The change was saved to {self.path} (serial {self.serial_no}), but"
                       f" writing or distributing the files derived from it failed: {err}")
            LOG.error(message)
            raise ConfigError(message) from err

    def save(self) -> None:
        """Write ``data`` as changed in place by the caller (bumps the file serial)."""
        with self.lock:
            self._commit()

    def redistribute(self) -> list[str]:
        """Push the current config to the other nodes again (``gnt-cluster redist-conf``)."""
        with self.lock:
            blob = json.dumps(self.data, separators=(",", ":"), sort_keys=True).encode()
            if self.on_commit is None:
                return []
            return list(self.on_commit(self.data, blob, force=True) or [])

    # -- reading -------------------------------------------------------------------------
    @property
    def serial_no(self) -> int:
        return int(self.data["serial_no"])

    def cluster(self) -> dict[str, Any]:
        return self.data["cluster"]

    def all(self, kind: str) -> list[dict[str, Any]]:
        """A snapshot list of every object of ``kind`` (safe to iterate while others write)."""
        with self.lock:
            return list(self.data[kind].values())

    def get(self, kind: str, uuid: str) -> dict[str, Any]:
        try:
            return self.data[kind][uuid]
        except KeyError:
            raise OpPrereqError(f"Unknown {kind[:-1]} UUID '{uuid}'", ECODE_NOENT) from None

    def master_node(self) -> dict[str, Any]:
        return self.data["nodes"][self.data["cluster"]["master_node"]]

    def find(self, kind: str, name: str) -> dict[str, Any] | None:
        """The object of ``kind`` named ``name`` (short names expanded), or None."""
        with self.lock:
            by_name = {obj["name"]: obj for obj in self.data[kind].values()}
        full = expand_name(list(by_name), name)
        return by_name[full] if full else None

    def lookup(self, kind: str, name: str) -> dict[str, Any]:
        """Like :meth:`find`, but an unknown name is a prerequisite error naming it."""
        obj = self.find(kind, name)
        if obj is None:
            label = {"nodes": "Node", "instances": "Instance", "nodegroups": "Node group",
                     "networks": "Network"}.get(kind, kind)
            raise OpPrereqError(f"{label} '{name}' not known", ECODE_NOENT)
        return obj

    def instance_disks(self, instance: dict[str, Any]) -> list[dict[str, Any]]:
        return [self.data["disks"][uuid] for uuid in instance["disks"]]

    def node_instances(self, node_uuid: str) -> list[dict[str, Any]]:
        return [inst for inst in self.all("instances") if inst["primary_node"] == node_uuid]

    def instance_secondaries(self, instance: dict[str, Any]) -> list[str]:
        """UUIDs of the nodes besides the primary that hold the instance's disks (the
        secondary node of a drbd instance), in disk order."""
        found: list[str] = []
        for disk in self.instance_disks(instance):
            for node in disk.get("nodes") or []:
                if node != instance["primary_node"] and node not in found:
                    found.append(node)
        return found

    def node_secondary_instances(self, node_uuid: str) -> list[dict[str, Any]]:
        """Instances whose disks have a secondary on ``node_uuid``."""
        return [inst for inst in self.all("instances")
                if node_uuid in self.instance_secondaries(inst)]

    def all_macs(self) -> set[str]:
        with self.lock:
            return {nic["mac"] for inst in self.data["instances"].values() for nic in inst["nics"]}

    # -- changing ------------------------------------------------------------------------
    @contextmanager
    def _changing(self) -> Iterator[None]:
        with self.lock:
            if self._depth:          # inside transaction(): the outermost block writes
                yield
                return
            self._depth += 1
            try:
                yield
            except BaseException:
                self._rollback()   # a change that failed half way leaves nothing behind
                raise
            finally:
                self._depth -= 1
            self._commit()

    def transaction(self) -> AbstractContextManager[None]:
        """Several add/modify/remove calls written as one change (one serial, one write): an
        exception leaving the block undoes all of them."""
        return self._changing()

    def add(self, kind: str, obj: dict[str, Any], extra: dict[str, list[dict[str, Any]]]
            | None = None) -> dict[str, Any]:
        """Add a new object (stamped with serial/ctime) and any dependent objects at once."""
        with self._changing():
            for dep_kind, dep_objs in (extra or {}).items():
                for dep in dep_objs:
                    stamp(dep)
                    self.data[dep_kind][dep["uuid"]] = dep
            stamp(obj)
            if obj["uuid"] in self.data[kind]:
                raise ConfigError(f"Duplicate {kind[:-1]} UUID {obj['uuid']}")
            self.data[kind][obj["uuid"]] = obj
        return obj

    def modify(self, kind: str, uuid: str, change: Callable[[dict[str, Any]], None]) -> dict:
        """Apply ``change`` to a copy of an object; swap it in and write only if it succeeds."""
        with self._changing():
            current = self.get(kind, uuid) if kind != "cluster" else self.data["cluster"]
            updated = copy.deepcopy(current)
            change(updated)
            touch(updated)
            if kind == "cluster":
                self.data["cluster"] = updated
            else:
                self.data[kind][uuid] = updated
        return updated

    def modify_cluster(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        return self.modify("cluster", "", change)

    def remove(self, kind: str, uuid: str, extra: dict[str, list[str]] | None = None) -> None:
        """Remove an object and dependent objects (e.g. an instance and its disks)."""
        with self._changing():
            self.get(kind, uuid)
            for dep_kind, dep_uuids in (extra or {}).items():
                for dep_uuid in dep_uuids:
                    self.data[dep_kind].pop(dep_uuid, None)
            del self.data[kind][uuid]

    def filters(self) -> list[dict[str, Any]]:
        """The job filter rules (``config.data["filters"]``, absent in older configs).

        Read without :attr:`lock` (the scheduler asks for every job and must not wait for a
        config write): copying the dict is atomic, and rules are replaced, never changed."""
        return list(dict(self.data.get("filters", {})).values())

    def put_filter(self, rule: dict[str, Any]) -> None:
        """Add or replace a job filter rule (Ganeti's rules carry no serial or times)."""
        with self._changing():
            self.data.setdefault("filters", {})[rule["uuid"]] = rule

    def remove_filter(self, uuid: str) -> None:
        """Remove a job filter rule; :class:`OpPrereqError` (ECODE_NOENT) if there is none."""
        with self.lock:
            if uuid not in self.data.get("filters", {}):
                raise OpPrereqError(f"Filter rule with UUID {uuid} does not exist",
                                    ECODE_NOENT)
            with self._changing():
                del self.data["filters"][uuid]

    def replace_many(self, objects: dict[str, list[dict[str, Any]]]) -> None:
        """Swap in several prepared objects in one write (each touched)."""
        with self._changing():
            for kind, objs in objects.items():
                for obj in objs:
                    touch(obj)
                    self.data[kind][obj["uuid"]] = obj
