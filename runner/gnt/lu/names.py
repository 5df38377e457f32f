"""Name and IP checks of a new instance name (add, import, rename), as Ganeti's.

With the name check the name must resolve through the hosts file (never DNS) to a full name
that starts with it; the instance then takes the full name. The IP check (which needs the name
check) refuses the resolved address if a host answers there.
"""

from __future__ import annotations

from typing import Any

from gnt.core import resolver
from gnt.core.errors import ECODE_INVAL, ECODE_NOTUNIQUE, ECODE_RESOLVER, OpPrereqError


def check_name(lu: Any, name: str, name_check: bool, ip_check: bool) -> tuple[str, str | None]:
    """(name to use, resolved IPv4 address or None) for a new instance name ``name``.

    Raises OpPrereqError for an IP check without a name check, a name that does not resolve
    or resolves to another name."""
    if ip_check and not name_check:
        raise OpPrereqError("The IP address check needs the name check (drop --no-name-check,"
                            " or add --no-ip-check)", ECODE_INVAL)
    if not name_check:
        return name, None
    found = resolver.canonical(name)
    if found is None:
        raise OpPrereqError(f"The instance name '{name}' could not be resolved through the"
                            f" hosts file {resolver.hosts_file()} (add it there, or pass"
                            " --no-name-check)", ECODE_RESOLVER)
    full, address = found
    if not resolver.name_matches(name, full):
        raise OpPrereqError(f"The name '{name}' resolves to '{full}', which does not start"
                            f" with '{name}'", ECODE_INVAL)
    if full != name:
        lu.log(f"Resolved the name '{name}' to '{full}'")
    return full, address


def check_ip_free(name: str, address: str | None) -> None:
    """Refuse ``address`` (the resolved address of instance ``name``) if a host answers there."""
    if address is not None and resolver.ip_in_use(address):
        raise OpPrereqError(f"The IP address {address} of instance {name} is already in use"
                            " (a host answers there; pass --no-ip-check to skip this check)",
                            ECODE_NOTUNIQUE)
