"""Name resolution from the hosts file only.

The coordinator never sends DNS queries: on the machines it targets the configured resolver may
be unreachable or off-limits. Names resolve through ``/etc/hosts`` (``GNT_HOSTS_FILE``
overrides, used by the lab); a name that does not resolve is the caller's to handle.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import socket

# The port whose answer tells that an address is in use (Ganeti's node daemon port), and how
# long to wait for it; tests lower or move them.
IP_CHECK_PORT = 1811
IP_CHECK_TIMEOUT = 1.0

_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
                          r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")


def hosts_file() -> str:
    return os.environ.get("GNT_HOSTS_FILE", "/etc/hosts")


def valid_hostname(name: str) -> bool:
    """True for a syntactically valid (possibly dotted) host name."""
    return bool(_HOSTNAME_RE.match(name))


def _entries() -> list[tuple[str, list[str]]]:
    """(IPv4 address, names) of every usable hosts-file line, in file order."""
    try:
        with open(hosts_file(), encoding="utf-8", errors="replace") as handle:
            lines = handle.readlines()
    except OSError:
        return []
    entries = []
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        try:
            ipaddress.IPv4Address(fields[0])
        except ValueError:
            continue
        entries.append((fields[0], fields[1:]))
    return entries


def _is_ipv4(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
        return True
    except ValueError:
        return False


def lookup(name: str) -> str | None:
    """The first IPv4 address the hosts file gives ``name`` (or its short form), or None."""
    if _is_ipv4(name):
        return name
    wanted = {name, name.split(".")[0]} if "." not in name else {name}
    for address, names in _entries():
        if wanted & set(names):
            return address
    return None


def canonical(name: str) -> tuple[str, str] | None:
    """(full name, IPv4 address) of ``name`` from the hosts file: the first name of the line
    that lists ``name`` (Ganeti's FQDN expansion), or None if it does not resolve."""
    if _is_ipv4(name):
        return None
    for address, names in _entries():
        if name in names:
            return names[0], address
    return None


def this_node_name() -> str:
    """This node's name: ``GNT_NODE_NAME`` (lab nodes) or the host name."""
    return os.environ.get("GNT_NODE_NAME") or socket.gethostname()


def this_node_address() -> str:
    """This node's primary address: its hosts-file entry, else 127.0.0.1."""
    return os.environ.get("GNT_NODE_IP") or lookup(this_node_name()) or "127.0.0.1"


def name_matches(given: str, resolved: str) -> bool:
    """True if ``given`` is ``resolved`` or its leading dot-separated components (Ganeti
    refuses a resolved name that does not start with the given one)."""
    given, resolved = given.rstrip(".").lower(), resolved.rstrip(".").lower()
    return resolved == given or resolved.startswith(given + ".")


def ip_in_use(address: str, port: int | None = None, timeout: float | None = None) -> bool:
    """True if something at ``address`` answers a TCP connect to ``port``: an accepted
    connection or a refusal both mean a live host; only silence (timeout, unreachable) is free."""
    try:
        with socket.create_connection((address, port or IP_CHECK_PORT),
                                      timeout=IP_CHECK_TIMEOUT if timeout is None else timeout):
            return True
    except ConnectionRefusedError:
        return True
    except OSError as err:
        return err.errno == errno.ECONNREFUSED
