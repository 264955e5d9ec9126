"""The hall's staff directory, the one place a person's role, window and department are written:
a TOML file (HALL_STAFF_FILE, in Kubernetes from the Secret hall-staff; default the development
directory services/intake/data/staff.dev.toml, every password `hall`).

    [[staff]]
    id = "clerk-0001"
    name = "王敏"
    role = "clerk"             # clerk | officer | supervisor | operator
    window = "A01"             # a clerk's window
    department = ""            # an officer's department (business, quality ...)
    password = "scrypt$16384$8$1$<salt>$<hash>"   # python -m services.intake.staff hash

Passwords are stored as scrypt hashes (hashlib, the standard library), compared in constant time.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import os
import secrets
import sys
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from services.runtime.auth import ROLE_NAMES, Principal
from services.runtime.config import ConfigError

DEV_FILE = Path(__file__).resolve().parent / "data" / "staff.dev.toml"
_N, _R, _P = 2**14, 8, 1
# After this many wrong passwords in a row a staff id is locked for LOCK_S seconds (guessing).
MAX_FAILURES, LOCK_S = 5, 300.0


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


@dataclass(frozen=True)
class Member:
    principal: Principal
    password_hash: str


class Staff:
    def __init__(self, members: dict[str, Member], source: str) -> None:
        self._members = members
        self.source = source
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | None = None) -> Staff:
        path = path or os.environ.get("HALL_STAFF_FILE") or str(DEV_FILE)
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except OSError as err:
            raise ConfigError(f"HALL_STAFF_FILE={path!r}: {err.strerror}") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"HALL_STAFF_FILE={path!r}: {err}") from None
        members: dict[str, Member] = {}
        for entry in data.get("staff", []):
            sid, role = str(entry.get("id", "")), str(entry.get("role", ""))
            if not sid or role not in ROLE_NAMES or role == "service":
                raise ConfigError(f"{path}: staff entry {entry.get('id')!r} needs an id and a role of "
                                  "clerk, officer, supervisor, operator")
            if role == "clerk" and not entry.get("window"):
                raise ConfigError(f"{path}: clerk {sid} needs a window")
            if role == "officer" and not entry.get("department"):
                raise ConfigError(f"{path}: officer {sid} needs a department")
            members[sid] = Member(Principal(subject=sid, role=ROLE_NAMES[role], name=str(entry.get("name", "")),
                                            window_id=str(entry.get("window", "")),
                                            department=str(entry.get("department", ""))),
                                  str(entry.get("password", "")))
        return cls(members, path)

    @property
    def development(self) -> bool:
        return self.source == str(DEV_FILE)

    def sign_in(self, staff_id: str, password: str, *, now: float | None = None) -> Principal | None:
        """The member, if the password is theirs and they are not locked; else None (which of
        the two is wrong is not said)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            count, since = self._failures.get(staff_id, (0, 0.0))
            if count >= MAX_FAILURES and now - since < LOCK_S:
                return None
        member = self._members.get(staff_id)
        # A missing id costs as much as a wrong password: the answer's time says nothing.
        ok = check_password(password, member.password_hash if member else hash_password("", salt=b"0" * 16))
        with self._lock:
            if ok and member is not None:
                self._failures.pop(staff_id, None)
                return member.principal
            count, since = self._failures.get(staff_id, (0, now))
            self._failures[staff_id] = (count + 1, now if count + 1 >= MAX_FAILURES else since)
        return None

    def roles(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for m in self._members.values():
            out[m.principal.role] = out.get(m.principal.role, 0) + 1
        return out


def main() -> None:
    """python -m services.intake.staff hash   (prints the stored form of a password typed twice)"""
    if sys.argv[1:] != ["hash"]:
        sys.exit("usage: python -m services.intake.staff hash")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        sys.exit("the two differ")
    print(hash_password(first))


if __name__ == "__main__":
    main()
