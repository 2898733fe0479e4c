"""Production guard: with SMPLAT_ENV=prod the web app, `smplat run` and the jobs process refuse
to start, in one line, while the secret key is unset or a placeholder, the Stripe key or
webhook secret is the public sandbox one, cookies are not Secure, or sandboxes are enabled."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from smplat.settings import PROJECT_ROOT, SANDBOX_STRIPE_SECRET_KEY, SANDBOX_STRIPE_WEBHOOK_SECRET, Settings

pytestmark = pytest.mark.integration

SAFE = {
    "env": "prod",
    "secret_key": "k" * 48,
    "stripe_secret_key": "sk_live_" + "x" * 24,
    "stripe_webhook_secret": "whsec_" + "y" * 32,
    "cookie_secure": True,
    "sandbox_enabled": False,
    "password_hash_cost": "standard",
}
SAFE_ENV = {
    "SMPLAT_ENV": "prod",
    "SMPLAT_SECRET_KEY": SAFE["secret_key"],
    "SMPLAT_STRIPE_SECRET_KEY": SAFE["stripe_secret_key"],
    "SMPLAT_STRIPE_WEBHOOK_SECRET": SAFE["stripe_webhook_secret"],
    "SMPLAT_COOKIE_SECURE": "true",
    "SMPLAT_SANDBOX_ENABLED": "false",
    "SMPLAT_PASSWORD_HASH_COST": "standard",
}

CASES = {
    "secret-key-unset": ({"secret_key": None}, {"SMPLAT_SECRET_KEY": ""}, "SMPLAT_SECRET_KEY is unset"),
    "secret-key-placeholder": (
        {"secret_key": "change-me"},
        {"SMPLAT_SECRET_KEY": "change-me"},
        "SMPLAT_SECRET_KEY is a placeholder",
    ),
    "secret-key-short": (
        {"secret_key": "short-but-not-a-placeholder"},
        {"SMPLAT_SECRET_KEY": "short-but-not-a-placeholder"},
        "SMPLAT_SECRET_KEY is a placeholder",
    ),
    "stripe-sandbox-key": (
        {"stripe_secret_key": SANDBOX_STRIPE_SECRET_KEY},
        {"SMPLAT_STRIPE_SECRET_KEY": SANDBOX_STRIPE_SECRET_KEY},
        "SMPLAT_STRIPE_SECRET_KEY is the public sandbox key",
    ),
    "stripe-sandbox-webhook-secret": (
        {"stripe_webhook_secret": SANDBOX_STRIPE_WEBHOOK_SECRET},
        {"SMPLAT_STRIPE_WEBHOOK_SECRET": SANDBOX_STRIPE_WEBHOOK_SECRET},
        "SMPLAT_STRIPE_WEBHOOK_SECRET is the public sandbox secret",
    ),
    "cookies-not-secure": (
        {"cookie_secure": False},
        {"SMPLAT_COOKIE_SECURE": "false"},
        "SMPLAT_COOKIE_SECURE is false",
    ),
    "sandboxes-enabled": (
        {"sandbox_enabled": True},
        {"SMPLAT_SANDBOX_ENABLED": "true"},
        "SMPLAT_SANDBOX_ENABLED is true",
    ),
    "password-hash-test-cost": (
        {"password_hash_cost": "test"},
        {"SMPLAT_PASSWORD_HASH_COST": "test"},
        "SMPLAT_PASSWORD_HASH_COST is the test suites' cheap hash",
    ),
}


def _settings(**overrides) -> Settings:
    return Settings(_env_file=None, **{**SAFE, **overrides})


def test_a_safe_production_configuration_has_no_problems():
    assert _settings().production_problems() == []
    assert _settings().production_refusal("web") is None


@pytest.mark.parametrize("name", list(CASES))
def test_each_unsafe_setting_is_named(name):
    overrides, _env, expected = CASES[name]
    problems = _settings(**overrides).production_problems()
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_dev_and_test_are_not_judged():
    defaults = {
        "secret_key": None,
        "stripe_secret_key": SANDBOX_STRIPE_SECRET_KEY,
        "cookie_secure": False,
        "sandbox_enabled": True,
    }
    assert _settings(env="dev", **defaults).production_problems() == []
    assert _settings(env="test", **defaults).production_problems() == []


def _run(argv: list[str], env_overrides: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMPLAT_") or k.startswith("SMPLAT_TEST_")}
    env.update({**SAFE_ENV, **env_overrides, "DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}"})
    env = {k: v for k, v in env.items() if v != ""}
    return subprocess.run(
        argv, cwd=tmp_path, env={**env, "PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True, timeout=180
    )


def _assert_refused(done: subprocess.CompletedProcess, process: str, expected: str, code: int, tmp_path) -> None:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == code, done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"{process}: refusing to start with SMPLAT_ENV=prod: {expected}")
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "never.db").exists()  # nothing touched the database


@pytest.mark.parametrize("name", list(CASES))
def test_jobs_process_refuses_an_unsafe_production_start(name, tmp_path):
    _overrides, env, expected = CASES[name]
    done = _run([sys.executable, "-m", "jobs"], env, tmp_path)
    _assert_refused(done, "jobs", expected, 4, tmp_path)


@pytest.mark.parametrize("name", list(CASES))
def test_run_command_refuses_an_unsafe_production_start(name, tmp_path):
    _overrides, env, expected = CASES[name]
    done = _run([sys.executable, "-m", "smplat.cli", "run"], env, tmp_path)
    _assert_refused(done, "smplat", expected, 2, tmp_path)


@pytest.mark.parametrize("name", ["stripe-sandbox-webhook-secret", "cookies-not-secure"])
def test_web_app_module_refuses_an_unsafe_production_start(name, tmp_path):
    # the module `reflex run` imports: it stops before the app exists
    _overrides, env, expected = CASES[name]
    done = _run([sys.executable, "-c", "import smplat.smplat"], env, tmp_path)
    _assert_refused(done, "web", expected, 2, tmp_path)
