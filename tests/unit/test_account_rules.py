"""Pure account rules: email and password validation, safe redirects, hashing."""

import pytest

from smplat.services import accounts
from smplat.services.accounts import AccountError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Alex@Example.COM ", "alex@example.com"), ("a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk")],
    ids=["normalised", "plus-and-subdomain"],
)
def test_valid_emails_are_normalised(raw, expected):
    assert accounts.validate_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "email_required"),
        ("not-an-email", "email_invalid"),
        ("a@b", "email_invalid"),
        ("a@@b.com", "email_invalid"),
        ("a b@c.com", "email_invalid"),
        ("x@" + "a" * 320 + ".com", "email_invalid"),
    ],
    ids=["empty", "no-at", "no-tld", "double-at", "space", "too-long"],
)
def test_malformed_emails_are_refused(raw, code):
    with pytest.raises(AccountError) as err:
        accounts.validate_email(raw)
    assert err.value.code == code
    assert err.value.field == "email"


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short1!", "password_too_short"),
        ("password123", "password_weak"),
        ("aaaaaaaaaaaa", "password_weak"),
        ("onlyletterspassword", "password_weak"),
        ("12345678901234", "password_weak"),
        ("alexander-2024", "password_weak"),
        ("x" * 201, "password_too_long"),
    ],
    ids=["too-short", "common", "one-char", "letters-only", "digits-only", "contains-email-name", "too-long"],
)
def test_weak_passwords_are_refused(password, code):
    with pytest.raises(AccountError) as err:
        accounts.validate_password(password, "alexander@example.com")
    assert err.value.code == code
    assert err.value.field == "password"


def test_a_reasonable_password_passes():
    accounts.validate_password("violet-harbour-42", "alex@example.com")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/account/orders", "/account/orders"),
        ("https://evil.example", "/account"),
        ("//evil.example", "/account"),
        ("/\\evil", "/account"),
        ("", "/account"),
        (None, "/account"),
        ("/a\r\nSet-Cookie: x", "/account"),
    ],
    ids=["relative", "absolute", "protocol-relative", "backslash", "empty", "none", "header-injection"],
)
def test_only_relative_paths_are_followed_after_sign_in(raw, expected):
    assert accounts.safe_next_path(raw) == expected


def test_password_hash_is_argon2_and_verifies():
    hashed = accounts.hash_password("violet-harbour-42")
    assert hashed.startswith("$argon2id$")
    assert accounts.verify_password(hashed, "violet-harbour-42") is True
    assert accounts.verify_password(hashed, "violet-harbour-43") is False
    assert accounts.verify_password("not-a-hash", "violet-harbour-42") is False


def test_tokens_are_random_and_stored_as_sha256():
    a, b = accounts.new_token(), accounts.new_token()
    assert a != b and len(a) >= 40
    assert len(accounts.hash_token(a)) == 64 and accounts.hash_token(a) != a


@pytest.mark.parametrize(
    ("role", "staff", "admin"),
    [
        ("customer", False, False),
        ("operator", True, False),
        ("admin", True, True),
        ("", False, False),
        (None, False, False),
        ("ADMIN", False, False),
    ],
)
def test_the_role_rule_is_written_once(role, staff, admin):
    assert (accounts.is_staff(role), accounts.is_admin(role)) == (staff, admin)
