"""The remote API's users file and Basic authentication (Ganeti's format and hashes)."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

from gnt.rapi.auth import (
    REALM,
    UsersFile,
    basic_credentials,
    check_password,
    parse_users,
)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _ha1(user: str, password: str) -> str:
    return hashlib.md5(f"{user}:{REALM}:{password}".encode()).hexdigest()


USERS = f"""# comment
jack abc123
fred {{cleartext}}foo555
autocreator xyz789 write
jessica {{HA1}}{_ha1("jessica", "pw1")} write
monitoring {{ha1}}{_ha1("monitoring", "pw2")} read
superuser {{HA1}}{_ha1("superuser", "pw3")} read,write
broken line with too many fields
"""


def test_parse_users_as_ganeti_documents_them() -> None:
    users = parse_users(USERS)
    assert sorted(users) == ["autocreator", "fred", "jack", "jessica", "monitoring",
                             "superuser"]
    assert users["jack"].options == frozenset()
    assert users["autocreator"].options == {"write"}
    assert users["superuser"].options == {"read", "write"}


@pytest.mark.parametrize("name, password, ok", [
    ("jack", "abc123", True), ("jack", "abc124", False),
    ("fred", "foo555", True), ("fred", "{cleartext}foo555", False),
    ("jessica", "pw1", True), ("jessica", _ha1("jessica", "pw1"), False),
    ("monitoring", "pw2", True), ("superuser", "wrong", False),
])
def test_passwords(name: str, password: str, ok: bool) -> None:
    assert check_password(parse_users(USERS)[name], password) is ok


def test_unknown_scheme_never_matches() -> None:
    [user] = parse_users("x {sha}abc write").values()
    assert not check_password(user, "abc") and not check_password(user, "{sha}abc")


@pytest.mark.parametrize("header, expected", [
    (_basic("jack", "abc:123"), ("jack", "abc:123")),
    ("basic " + base64.b64encode(b"a:b").decode(), ("a", "b")),
    (None, None), ("", None), ("Digest abc", None), ("Basic !!!", None),
    ("Basic " + base64.b64encode(b"nocolon").decode(), None),
])
def test_basic_credentials(header: str | None, expected: tuple[str, str] | None) -> None:
    assert basic_credentials(header) == expected


def test_users_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "users"
    users = UsersFile(path)
    assert users.authenticate(_basic("jack", "abc123")) is None      # no file: no users
    path.write_text("jack abc123\n")
    assert users.authenticate(_basic("jack", "abc123")).name == "jack"
    path.write_text("jack newpass write\n")
    os.utime(path, ns=(1, 2))         # a change within the same mtime tick still counts
    user = users.authenticate(_basic("jack", "newpass"))
    assert user is not None and user.options == {"write"}
    assert users.authenticate(_basic("jack", "abc123")) is None
    path.unlink()
    assert users.authenticate(_basic("jack", "newpass")) is None
