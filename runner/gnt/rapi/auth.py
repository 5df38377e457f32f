"""Remote API users and HTTP Basic authentication, as Ganeti's ganeti-rapi.

The users file (``rapi/users`` in the data dir) has a line per user: ``name password
[options]``; ``#`` starts a comment. A password is clear text, ``{cleartext}TEXT`` or
``{HA1}HEX`` (the MD5 of ``name:Ganeti Remote API:password``, RFC 2617); scheme prefixes are
case-insensitive. Options (comma separated) are ``read`` and ``write``. The file is read again
whenever it changes (mtime, size or inode), so no signal is needed.

Access, as Ganeti: a GET needs no user unless authentication is required for every request;
PUT, POST and DELETE (and a few GETs that block, e.g. a job wait) need a user with ``write``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from pathlib import Path

REALM = "Ganeti Remote API"
ACCESS_READ = "read"
ACCESS_WRITE = "write"
LOG = logging.getLogger("gnt.rapi.auth")


@dataclass(frozen=True)
class User:
    """One line of the users file."""

    name: str
    password: str          # as written, with its scheme prefix if any
    options: frozenset[str]


def parse_users(text: str) -> dict[str, User]:
    """The users of a users file's text (later lines win); malformed lines are skipped and
    logged with their line number (never their password)."""
    users: dict[str, User] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) not in (2, 3):
            LOG.warning("users file line %d ignored: expected 'user password [options]'",
                        number)
            continue
        options = frozenset(o for o in (fields[2].split(",") if len(fields) == 3 else [])
                            if o)
        users[fields[0]] = User(fields[0], fields[1], options)
    return users


def check_password(user: User, password: str) -> bool:
    """True if ``password`` is the user's (constant-time comparison)."""
    stored = user.password
    if stored.startswith("{"):
        scheme, _sep, value = stored[1:].partition("}")
        scheme = scheme.lower()
        if scheme == "cleartext":
            return hmac.compare_digest(value.encode(), password.encode())
        if scheme == "ha1":
            digest = hashlib.md5(f"{user.name}:{REALM}:{password}".encode(),
                                 usedforsecurity=False).hexdigest()
            return hmac.compare_digest(value.lower().encode(), digest.encode())
        LOG.warning("user %s: unknown password scheme '{%s}'", user.name, scheme)
        return False
    return hmac.compare_digest(stored.encode(), password.encode())


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic ...`` header, None if absent/other."""
    if not header:
        return None
    scheme, _sep, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, password = decoded.partition(":")
    return (name, password) if sep else None


class UsersFile:
    """The users file, read again when it changes on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._users: dict[str, User] = {}

    def users(self) -> dict[str, User]:
        """The current users (none if the file is missing or unreadable)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self._users = None, {}
            return self._users
        except OSError as err:
            LOG.warning("cannot read the users file %s: %s", self.path, err)
            return self._users
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            try:
                self._users = parse_users(self.path.read_text(encoding="utf-8"))
                self._stamp = stamp
                LOG.info("read %d users from %s", len(self._users), self.path)
            except (OSError, UnicodeDecodeError) as err:
                LOG.warning("cannot read the users file %s: %s", self.path, err)
        return self._users

    def authenticate(self, header: str | None) -> User | None:
        """The user the ``Authorization`` header proves, or None."""
        creds = basic_credentials(header)
        if creds is None:
            return None
        user = self.users().get(creds[0])
        if user is None or not check_password(user, creds[1]):
            return None
        return user
