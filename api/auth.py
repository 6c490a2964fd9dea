"""Who is calling: API keys mapped to users with roles, stored only as salted hashes.

Keys come from the environment (``PROGNOS_API_USERS``) or are generated for a
demo; the store keeps scrypt digests and compares them in constant time, so a
key never sits in memory or logs in the clear after start-up.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: The roles of the role matrix, lowest privilege first (names agreed with tasking).
ROLES: tuple[str, ...] = (
    "junior_engineer",
    "intermediate_engineer",
    "senior_engineer",
    "planner",
    "project_manager",
    "admin",
)
ENGINEER_ROLES = frozenset({"junior_engineer", "intermediate_engineer", "senior_engineer"})

_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_MIN_KEY_CHARS = 16
_CACHE_SIZE = 256


class AuthError(ValueError):
    """A user specification is malformed; the message names the entry and why."""


@dataclass(frozen=True, slots=True)
class User:
    """A signed-in caller: a name and one role of ``ROLES``."""

    name: str
    role: str


@dataclass(frozen=True, slots=True)
class _Credential:
    user: User
    salt: bytes
    digest: bytes


def _digest(key: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        key.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )


class UserStore:
    """API keys (hashed) to users.

    >>> store = UserStore()
    >>> store.add("alice", "planner", "k" * 24)
    >>> store.authenticate("k" * 24)
    User(name='alice', role='planner')
    >>> store.authenticate("wrong-key-wrong-key") is None
    True
    """

    def __init__(self) -> None:
        self._credentials: list[_Credential] = []
        # Keys already verified, indexed by a fast hash, so scrypt runs once per key, not per call.
        self._verified: OrderedDict[bytes, User] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, name: str, role: str, key: str) -> None:
        """Register ``name`` with ``role``; the key is kept only as a salted scrypt digest."""
        if not name or any(c in name for c in ":, \t\n"):
            raise AuthError(f"user name {name!r} is empty or holds ':', ',' or blanks")
        if role not in ROLES:
            raise AuthError(f"user {name!r}: role {role!r} is not one of {', '.join(ROLES)}")
        if len(key) < _MIN_KEY_CHARS:
            raise AuthError(f"user {name!r}: API key is shorter than {_MIN_KEY_CHARS} characters")
        if any(c.user.name == name for c in self._credentials):
            raise AuthError(f"user {name!r} is listed twice")
        salt = secrets.token_bytes(16)
        self._credentials.append(_Credential(User(name, role), salt, _digest(key, salt)))

    @property
    def users(self) -> list[User]:
        """The registered users (never their keys)."""
        return [c.user for c in self._credentials]

    def authenticate(self, key: str) -> User | None:
        """The user whose key this is, or None; constant-time digest comparison."""
        if not key or len(key) > 512:
            return None
        fast = hashlib.sha256(key.encode("utf-8")).digest()
        with self._lock:
            cached = self._verified.get(fast)
            if cached is not None:
                self._verified.move_to_end(fast)
                return cached
        found: User | None = None
        for cred in self._credentials:
            if hmac.compare_digest(_digest(key, cred.salt), cred.digest):
                found = cred.user
        if found is not None:
            with self._lock:
                self._verified[fast] = found
                while len(self._verified) > _CACHE_SIZE:
                    self._verified.popitem(last=False)
        return found

    @classmethod
    def from_spec(cls, spec: str) -> UserStore:
        """Users from ``"alice:planner:<key>,bob:senior_engineer:<key>"`` (e.g. an env value)."""
        store = cls()
        for index, entry in enumerate(p.strip() for p in spec.split(",")):
            if not entry:
                continue
            parts = entry.split(":", 2)
            if len(parts) != 3:
                raise AuthError(
                    f"user entry {index + 1} is not 'name:role:key' (found {len(parts)} field(s))"
                )
            store.add(parts[0].strip(), parts[1].strip(), parts[2].strip())
        if not store._credentials:
            raise AuthError("the user specification lists no users")
        log.info(
            "api users loaded count=%d names=%s",
            len(store.users),
            ",".join(u.name for u in store.users),
        )
        return store

    @classmethod
    def generate_demo(cls) -> tuple[UserStore, dict[str, str]]:
        """One user per role with fresh random keys; the plain keys are returned once to print."""
        store = cls()
        names = {
            "planner": "pat",
            "junior_engineer": "jun",
            "intermediate_engineer": "ivy",
            "senior_engineer": "sam",
            "project_manager": "max",
            "admin": "ada",
        }
        keys: dict[str, str] = {}
        for role in ROLES:
            key = "pk_" + secrets.token_urlsafe(24)
            store.add(names[role], role, key)
            keys[names[role]] = key
        return store, keys
