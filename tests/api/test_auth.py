"""API keys: parsing the user specification, hashing, and constant-time lookup."""

from __future__ import annotations

import logging

import pytest

from prognos.api.auth import ROLES, AuthError, UserStore


def test_from_spec_maps_each_key_to_its_user_and_role() -> None:
    store = UserStore.from_spec(
        "alice:planner:alice-key-0123456789, bob:senior_engineer:bob-key-0123456789"
    )
    assert store.authenticate("alice-key-0123456789").name == "alice"  # type: ignore[union-attr]
    bob = store.authenticate("bob-key-0123456789")
    assert bob is not None and bob.role == "senior_engineer"
    assert store.authenticate("carol-key-0123456789") is None
    assert store.authenticate("") is None


def test_keys_are_not_kept_in_the_clear() -> None:
    key = "secret-key-abcdefghijkl"
    store = UserStore.from_spec(f"alice:admin:{key}")
    held = repr(vars(store)) + repr(store._credentials)
    assert key not in held
    assert key.encode() not in b"".join(c.digest + c.salt for c in store._credentials)


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("alice:planner", "not 'name:role:key'"),
        ("alice:chief:0123456789abcdefgh", "role 'chief'"),
        ("alice:planner:short", "shorter than"),
        ("a:planner:0123456789abcdefgh,a:admin:0123456789abcdefgX", "listed twice"),
        (" , ", "no users"),
    ],
)
def test_bad_specs_name_the_problem(spec: str, needle: str) -> None:
    with pytest.raises(AuthError, match=needle):
        UserStore.from_spec(spec)


def test_demo_store_has_every_role_and_fresh_keys(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store, keys = UserStore.generate_demo()
    _, other_keys = UserStore.generate_demo()
    assert sorted(u.role for u in store.users) == sorted(ROLES)
    assert set(keys.values()).isdisjoint(other_keys.values())
    for name, key in keys.items():
        user = store.authenticate(key)
        assert user is not None and user.name == name
    assert not any(k in caplog.text for k in keys.values())
