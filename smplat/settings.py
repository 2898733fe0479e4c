"""One typed settings object, read from the environment and `.env`, used everywhere.

rxconfig, the web app, the jobs process, the sandboxes and the tests all call
`get_settings()`. Every field is documented in docs/operations.md.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"
# The local Stripe sandbox accepts exactly these; any other key means the real Stripe.
SANDBOX_STRIPE_SECRET_KEY = "sk_test_smplat_sandbox"
SANDBOX_STRIPE_WEBHOOK_SECRET = "whsec_smplat_sandbox"
STRIPE_API_BASE = "https://api.stripe.com"
# The local Instagram sandbox accepts exactly this token; any other token means the real Graph API.
SANDBOX_INSTAGRAM_TOKEN = "ig_smplat_sandbox_token"
INSTAGRAM_GRAPH_BASE = "https://graph.facebook.com"
# Secret keys that are somebody's example, never a production secret.
PLACEHOLDER_SECRET_KEYS = frozenset({"change-me", "changeme", "secret", "dev", "test", "smplat", "insecure"})
SECRET_KEY_MIN_LENGTH = 32
# In dev, alerts go to the local SMTP sink under this address unless SMPLAT_ALERT_EMAIL_TO says otherwise.
DEV_ALERT_EMAIL = "ops@smplat.local"


class Settings(BaseSettings):
    """All configuration. Environment variables use the `SMPLAT_` prefix, except the
    conventional `DATABASE_URL` and `REDIS_URL`, which are read with or without it."""

    model_config = SettingsConfigDict(
        env_prefix="SMPLAT_",
        env_file=str(PROJECT_ROOT / ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # --- core -----------------------------------------------------------------
    env: str = Field("dev", description="dev, test or prod; prod refuses an unsafe configuration (production_problems)")
    database_url: str = Field(
        f"sqlite:///{VAR_DIR / 'smplat.db'}",
        validation_alias=AliasChoices("DATABASE_URL", "SMPLAT_DATABASE_URL"),
        description="SQLAlchemy URL. sqlite:///path or postgresql+psycopg://user@host:5432/db",
    )
    redis_url: str | None = Field(
        None,
        validation_alias=AliasChoices("REDIS_URL", "SMPLAT_REDIS_URL"),
        description="When set, Reflex keeps page state in Redis so several web workers share it",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Signs and encrypts secrets at rest. Unset: generated once into var/secret.key",
    )
    public_base_url: str = Field("http://localhost:3000", description="Absolute URL of the shop, used in emailed links")
    port: int = Field(3000, description="Port of the web app (pages and API on one port)")
    allowed_origins: str = Field(
        "",
        description="Comma-separated extra origins (scheme://host[:port]) allowed to call the API and open the /_event websocket; the public base URL's origin is always allowed",
    )
    log_level: str = Field("INFO", description="Python logging level of all processes")
    brand_name: str = Field("SMPLAT", description="Name shown in the header, titles and emails")

    # --- accounts --------------------------------------------------------------
    session_cookie_name: str = Field("smplat_session", description="Name of the HttpOnly session cookie")
    session_ttl_days: int = Field(30, ge=1, description="Days a session stays valid")
    cookie_secure: bool = Field(False, description="Mark cookies Secure (set true behind HTTPS)")
    password_hash_cost: str = Field(
        "standard",
        pattern="^(standard|test)$",
        description="Argon2id cost: `standard` (RFC 9106 low-memory: 3 passes over 64 MiB) or `test` (one pass "
        "over 8 KiB, for test suites that create thousands of accounts; refused with SMPLAT_ENV=prod)",
    )
    session_idle_timeout_minutes: int = Field(
        720, ge=10, description="A session unused for longer than this is refused (sign in again)"
    )
    email_verification_hours: int = Field(
        48, ge=1, description="Hours an email verification link stays valid (verifying attaches guest orders)"
    )

    # --- client dashboard --------------------------------------------------------
    live_poll_seconds: float = Field(
        2.0, ge=0.5, le=60, description="How often an open order page or orders list checks for changes"
    )
    admin_stuck_after_hours: int = Field(
        24,
        ge=1,
        description="Stuck threshold for a line whose product is gone (others use the product's delivery estimate)",
    )
    admin_period_days: int = Field(30, ge=1, le=366, description="The admin home's comparison period, in days")
    tracking_link_days: int = Field(
        90, ge=1, description="Days a guest's signed order-tracking link (from the receipt) stays valid"
    )
    login_max_failures: int = Field(5, ge=1, description="Failed sign-ins allowed per window per email")
    login_max_failures_per_ip: int = Field(
        20, ge=1, description="Failed sign-ins allowed per window from one IP (any emails)"
    )
    login_window_minutes: int = Field(
        15, ge=1, description="Throttling window for failed sign-ins and second-factor codes"
    )
    totp_max_failures: int = Field(
        5, ge=1, description="Wrong second-factor codes allowed per window per account (and four times that per IP)"
    )
    require_two_factor_for_operators: bool = Field(
        False, description="Operators must enrol two-factor sign-in (TOTP) too; admins always must"
    )
    two_factor_pending_minutes: int = Field(
        5, ge=1, le=30, description="Minutes a correct password waits for its second-factor code in that tab"
    )
    reset_max_requests: int = Field(
        3, ge=1, description="Password-reset emails one address may request per reset window"
    )
    reset_max_requests_per_ip: int = Field(
        10, ge=1, description="Password-reset requests allowed from one IP per reset window"
    )
    reset_window_minutes: int = Field(60, ge=1, description="Throttling window for password-reset requests")
    password_reset_ttl_minutes: int = Field(60, ge=5, description="Lifetime of an emailed reset link")
    email_change_ttl_minutes: int = Field(
        60, ge=5, description="Lifetime of the link that confirms a new email address"
    )
    signin_ticket_ttl_seconds: int = Field(
        60, ge=5, description="Lifetime of the one-time ticket exchanged for the cookie"
    )

    # --- roles and permissions (smplat.services.permissions) ------------------------
    operator_refund_limit_minor: int = Field(
        10000,
        ge=0,
        description="Largest refund an operator may issue, in minor units of the refund's currency (10000 = 100.00); larger refunds need an admin",
    )

    # --- reseller API (smplat.services.resellers, /api/v2) ---------------------------
    reseller_default_markup_bps: int = Field(
        2000,
        ge=0,
        description="Reseller rate over the provider cost per 1000 units, in basis points (2000 = +20%), for resellers without their own markup or rate; never above the storefront rate",
    )
    reseller_topup_min_minor: int = Field(
        1000, ge=50, description="Smallest wallet top-up through Stripe Checkout, in minor units (1000 = 10.00)"
    )
    reseller_topup_max_minor: int = Field(
        500000, ge=50, description="Largest wallet top-up through Stripe Checkout, in minor units (500000 = 5,000.00)"
    )

    # --- rate limits (the `limits` library; "N/second|minute|hour|day", several joined by ";"; empty: off) ---
    rate_limit_reseller_key: str = Field("10/second;600/minute", description="Reseller API v2 requests per API key")
    rate_limit_signup_ip: str = Field("5/minute;30/hour", description="Sign-ups from one IP")
    rate_limit_signup_email: str = Field("5/hour", description="Sign-up attempts for one email")
    rate_limit_signin_ip: str = Field("30/minute;300/hour", description="Sign-in requests from one IP (right or wrong)")
    rate_limit_signin_email: str = Field(
        "20/minute;100/hour", description="Sign-in requests for one email (right or wrong)"
    )
    rate_limit_reset_ip: str = Field("5/minute;20/hour", description="Password-reset requests from one IP")
    rate_limit_reset_email: str = Field("3/hour", description="Password-reset requests for one email")
    rate_limit_refill_user: str = Field(
        "10/minute;100/day", description="Refill and cancel requests by one signed-in customer (API and order page)"
    )
    rate_limit_cart_create_ip: str = Field("20/hour;60/day", description="New carts started from one IP")
    rate_limit_cart_add_ip: str = Field("60/minute;600/hour", description="Cart lines added from one IP")
    rate_limit_cart_add_cart: str = Field("30/minute;200/hour", description="Lines added to one cart")
    rate_limit_checkout_ip: str = Field("10/minute;60/hour", description="Checkouts started from one IP")
    rate_limit_checkout_visitor: str = Field(
        "5/minute;30/hour", description="Checkouts started by one account or one guest cart cookie"
    )
    rate_limit_search_ip: str = Field("60/minute;1000/hour", description="Catalog searches from one IP")
    rate_limit_analytics_ip: str = Field(
        "120/minute;3000/hour", description="Analytics events (searches, preset clicks, exposures) recorded per IP"
    )
    rate_limit_analytics_visitor: str = Field(
        "60/minute;1000/hour", description="Analytics events recorded per browser (cart cookie)"
    )
    rate_limit_email_change_user: str = Field(
        "5/hour;10/day", description="Email-change confirmation links one account may ask for"
    )

    # --- email -----------------------------------------------------------------
    smtp_host: str = Field("127.0.0.1", description="SMTP server host (default: the local SMTP sink)")
    smtp_port: int = Field(8025, description="SMTP server port")
    smtp_username: str | None = Field(None, description="SMTP user, if the server needs auth")
    smtp_password: SecretStr | None = Field(None, description="SMTP password")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS")
    smtp_timeout_seconds: float = Field(10.0, description="SMTP connect/read timeout")
    smtp_connect_retries: int = Field(
        1,
        ge=0,
        description="Times a failed SMTP connection is retried after a short pause (the jobs process retries later anyway)",
    )
    mail_from: str = Field("SMPLAT <no-reply@smplat.local>", description="From header of every email")
    notifications_send_on_commit: bool = Field(
        True,
        description="Right after the event's commit, the process that queued a notification tries it once (the jobs process retries); false: only the jobs process sends",
    )
    notifications_max_attempts: int = Field(
        6, ge=1, description="Attempts to send one notification before it is marked failed"
    )
    notifications_retry_base_seconds: int = Field(
        60, ge=1, description="Wait before the second attempt of a notification; doubles per attempt"
    )
    notifications_retry_max_seconds: int = Field(
        3600, ge=1, description="Longest wait between two attempts of a notification"
    )
    notifications_batch_size: int = Field(100, ge=1, description="Notifications one send run claims at most")
    notifications_claim_seconds: int = Field(
        300, ge=30, description="A claimed notification whose sender died is claimable again after this"
    )

    # --- payments (Stripe) -----------------------------------------------------------
    stripe_secret_key: SecretStr = Field(
        SecretStr(SANDBOX_STRIPE_SECRET_KEY),
        description="Stripe secret key. The default talks to the local Stripe sandbox; a real sk_live_/sk_test_ key talks to Stripe",
    )
    stripe_webhook_secret: SecretStr = Field(
        SecretStr(SANDBOX_STRIPE_WEBHOOK_SECRET),
        description="Signing secret of the /api/stripe/webhook endpoint (whsec_...)",
    )
    stripe_api_base: str | None = Field(
        None,
        description="API base of the stripe SDK. Unset: the local sandbox while the secret key is the sandbox key, else https://api.stripe.com",
    )
    checkout_session_ttl_minutes: int = Field(
        60, ge=30, le=1440, description="Minutes a Stripe Checkout link stays payable (Stripe allows 30 to 1440)"
    )

    # --- linked profiles (Instagram Graph API; smplat.integrations.instagram) -----------
    instagram_graph_base_url: str | None = Field(
        None,
        description="Graph API base URL. Unset: the local Instagram sandbox while the token is the sandbox token, else https://graph.facebook.com",
    )
    instagram_api_version: str = Field("v21.0", pattern=r"^v\d+\.\d+$", description="Graph API version in every path")
    instagram_app_id: str = Field(
        "", description="Meta app id owning the token (shown in the admin, kept for token exchange)"
    )
    instagram_app_secret: SecretStr = Field(
        SecretStr(""), description="Meta app secret; when set every call carries appsecret_proof (HMAC of the token)"
    )
    instagram_access_token: SecretStr = Field(
        SecretStr(SANDBOX_INSTAGRAM_TOKEN),
        description="Long-lived Graph API token of our Instagram business account. The default talks to the local sandbox",
    )
    instagram_business_account_id: str = Field(
        "17841400000000001", description="Id of our Instagram business account; business discovery is asked through it"
    )
    instagram_timeout_seconds: float = Field(10.0, gt=0, description="Connect/read timeout of a Graph API call")
    jobs_profile_refresh_interval_seconds: int = Field(
        3600, ge=60, description="How often the jobs process refreshes linked profiles' snapshots (hourly by default)"
    )
    profile_refresh_max_calls: int = Field(
        150, ge=1, description="Graph API calls one refresh run may make (the API allows 200 per hour per user)"
    )
    profile_refresh_usage_stop_percent: int = Field(
        90,
        ge=1,
        le=100,
        description="A run stops early when the X-App-Usage header reports this share of the limit used",
    )
    profile_backoff_base_seconds: int = Field(
        900, ge=0, description="Wait before retrying a profile whose refresh failed; doubles per failure"
    )
    profile_backoff_max_seconds: int = Field(
        86400, ge=1, description="Longest wait between retries of a failing profile"
    )

    # --- outbound calls --------------------------------------------------------------
    outbound_allowed_hosts: str = Field(
        "",
        description="Comma-separated hosts (or host:port) a provider base URL may use although they are loopback/private; dev and test also allow 127.0.0.1 and localhost (the sandbox panel)",
    )

    # --- invoices (seller details printed on every invoice; docs/architecture.md "Invoices") ---
    seller_name: str = Field("SMPLAT Growth OÜ", description="Legal name of the seller on invoices")
    seller_address: str = Field(
        "Narva mnt 5, 10117 Tallinn, Estonia",
        description="Seller's postal address on invoices; separate lines with `;`",
    )
    seller_country: str = Field(
        "EE",
        min_length=2,
        max_length=2,
        description="Seller's country (ISO 3166-1 alpha-2): home VAT rate, reverse charge",
    )
    seller_vat_id: str = Field("EE102030405", description="Seller's VAT identification number on invoices")
    seller_contact: str = Field("billing@smplat.local", description="Contact line on invoices (billing email or phone)")
    seller_bank: str = Field(
        "IBAN EE38 2200 2210 2014 5685 · BIC HABAEE2X", description="Bank details line on invoices"
    )
    invoice_dir: Path = Field(
        VAR_DIR / "invoices",
        description="Where invoice PDFs are stored: private, outside any public folder (served by /api/invoices/<id>/pdf)",
    )
    vat_rates_file: Path = Field(
        PROJECT_ROOT / "smplat" / "data" / "vat_rates.json",
        description="JSON table of VAT rates and VAT id formats by buyer country (default: EU standard rates)",
    )

    # --- sandboxes ---------------------------------------------------------------
    sandbox_enabled: bool = Field(True, description="Start the local sandboxes with `smplat run`")
    sandbox_smtp_port: int = Field(8025, description="Port of the local SMTP sink")
    sandbox_mailbox_dir: Path = Field(VAR_DIR / "mailbox", description="Where the SMTP sink stores messages")
    sandbox_panel_port: int = Field(8091, description="Port of the local SMM panel sandbox (panel API v2 at /api/v2)")
    sandbox_panel_latency_ms: int = Field(150, ge=0, description="Latency the panel sandbox adds to every call")
    sandbox_panel_error_rate: float = Field(
        0.0, ge=0, le=1, description="Share of panel sandbox calls answered with HTTP 502"
    )
    sandbox_panel_partial_rate: float = Field(0.05, ge=0, le=1, description="Share of sandbox orders that end Partial")
    sandbox_instagram_port: int = Field(
        8094, description="Port of the local Instagram sandbox (Graph API business discovery at /<version>/<id>)"
    )
    sandbox_panel_lookup: bool = Field(
        True,
        description="Whether the panel sandbox looks orders up by our submission key; false: the no-lookup mode of real panels",
    )
    sandbox_webhook_port: int = Field(8093, description="Port of the local webhook sink (alerts land at /hooks/...)")
    sandbox_webhook_dir: Path = Field(VAR_DIR / "webhooks", description="Where the webhook sink stores received posts")
    sandbox_stripe_port: int = Field(8092, description="Port of the local Stripe-compatible sandbox")
    sandbox_stripe_webhook_url: str | None = Field(
        None, description="Where the Stripe sandbox posts webhooks. Unset: <public base url>/api/stripe/webhook"
    )

    # --- jobs ------------------------------------------------------------------
    jobs_session_purge_interval_seconds: int = Field(
        3600, ge=10, description="How often the jobs process purges expired sessions and throttling rows"
    )
    jobs_checkout_expiry_interval_seconds: int = Field(
        300, ge=10, description="How often the jobs process expires unpaid checkout sessions past their deadline"
    )
    jobs_login_attempt_retention_days: int = Field(
        7, ge=1, description="Days failed/succeeded sign-in records are kept"
    )
    jobs_run_retention_days: int = Field(
        30, ge=1, description="Days job-run rows are kept (failed runs too); older ones are pruned daily"
    )
    jobs_run_prune_interval_seconds: int = Field(
        86400, ge=60, description="How often the jobs process prunes old job-run rows"
    )
    account_data_retention_days: int = Field(
        3650,
        ge=0,
        description="Days a deleted account's bookkeeping (orders, payments, invoices) is kept before the purge job removes it",
    )
    jobs_account_purge_interval_seconds: int = Field(
        86400, ge=60, description="How often the jobs process purges deleted accounts past their retention period"
    )

    # --- fulfilment ---------------------------------------------------------------
    jobs_fulfillment_interval_seconds: int = Field(
        5, ge=1, description="How often the jobs process drains the fulfilment queue"
    )
    jobs_status_sync_interval_seconds: int = Field(
        60, ge=5, description="How often open provider orders and refills are polled"
    )
    jobs_provider_health_interval_seconds: int = Field(
        900, ge=30, description="How often provider health, balances and services are checked"
    )
    jobs_replay_interval_seconds: int = Field(
        60, ge=5, description="How often scheduled replays that are due are queued"
    )
    jobs_alerts_interval_seconds: int = Field(300, ge=30, description="How often alert conditions are evaluated")
    jobs_notifications_interval_seconds: int = Field(
        15, ge=1, description="How often the jobs process sends queued notifications (and retries failed attempts)"
    )
    jobs_digest_interval_seconds: int = Field(
        3600,
        ge=60,
        description="How often the weekly digest job looks for customers whose last week's digest is not queued yet",
    )
    fulfillment_batch_size: int = Field(100, ge=1, le=1000, description="Tasks claimed per claim query")
    fulfillment_concurrency: int = Field(
        20, ge=1, le=500, description="Provider calls in flight at once per jobs process"
    )
    fulfillment_tick_max_seconds: int = Field(
        50, ge=1, description="A fulfilment run stops claiming new tasks after this long"
    )
    fulfillment_lease_seconds: int = Field(
        120, ge=10, description="How long a claimed task belongs to its worker before another may take it"
    )
    fulfillment_reconcile_delay_seconds: int = Field(
        30, ge=1, description="Wait after an unanswered add before asking the panel whether it got the order"
    )
    fulfillment_max_attempts: int = Field(5, ge=1, description="Attempts before a task goes to the dead letters")
    fulfillment_backoff_base_seconds: float = Field(
        30.0, ge=0, description="First retry delay; doubles per attempt, with full jitter"
    )
    fulfillment_backoff_max_seconds: float = Field(3600.0, ge=1, description="Longest retry delay")
    fulfillment_link_wait_seconds: int = Field(
        600, ge=1, description="Wait before re-trying a link the panel says has an active order"
    )
    fulfillment_partial_policy: str = Field(
        "reroute",
        pattern="^(reroute|refund)$",
        description="What a Partial result does with the remainder: reroute (order it again) or refund (price x remains / quantity)",
    )
    status_sync_max_orders: int = Field(
        2000, ge=1, description="Provider orders polled per status sync run (least recently synced first)"
    )
    routing_margin_warn_bps: int = Field(
        3000,
        ge=0,
        description="Routes whose margin is below this (basis points, 3000 = 30 %) are flagged in the admin preview",
    )
    routing_margin_floor_bps: int = Field(
        1000, description="Hard floor: a route below this margin is never used (a route's own min_margin_bps overrides)"
    )
    experiment_min_exposures: int = Field(
        200,
        ge=1,
        description="Visitors each pricing-experiment variant needs before the admin shows a significance verdict",
    )

    # --- alerts ------------------------------------------------------------------
    alert_email_to: str = Field(
        "",
        description="Comma-separated addresses that receive operational alerts; empty: none, except in dev with the "
        "sandboxes (ops@smplat.local, read in var/mailbox); off: none",
    )
    alert_webhook_url: str = Field(
        "",
        description="Slack-compatible incoming webhook URL for alerts; empty: none, except in dev with the sandboxes "
        "(the local webhook sink's /hooks/alerts); off: none",
    )
    alert_repeat_minutes: int = Field(60, ge=1, description="A condition still true is re-sent at most this often")
    alert_dead_letter_threshold: int = Field(
        1, ge=1, description="Alert when the dead-letter count reaches this and grows"
    )
    alert_failure_rate_threshold: float = Field(
        0.25, gt=0, le=1, description="Alert when a provider's failed share of attempts in the last hour passes this"
    )
    alert_failure_rate_min_attempts: int = Field(
        10, ge=1, description="Attempts in the last hour before the failure rate is judged"
    )
    alert_provider_share_threshold: float = Field(
        0.9,
        gt=0,
        le=1,
        description="Alert when one provider carries more than this share of a product's orders in the last day",
    )
    alert_provider_share_min_orders: int = Field(
        20, ge=1, description="Orders of a product in the last day before the share is judged"
    )

    # --- dashboard roll-ups (smplat.services.rollups) -------------------------------
    jobs_dashboard_rollup_interval_seconds: int = Field(
        3600, ge=60, description="How often the jobs process rolls closed days of sales up for the dashboard"
    )
    dashboard_rollup_reroll_days: int = Field(
        35,
        ge=1,
        le=366,
        description="Closed days the dashboard roll-up sums again on every run (late refunds and completions land)",
    )

    # --- merchandising analytics (smplat.services.merch_analytics) -------------------
    jobs_merch_rollup_interval_seconds: int = Field(
        86400, ge=60, description="How often the jobs process rolls preset events up into daily metrics (nightly)"
    )
    merch_preset_event_retention_days: int = Field(
        180, ge=1, description="Days raw preset apply/clear events are kept; older ones are pruned after the roll-up"
    )
    merch_risky_clear_percent: int = Field(
        40, ge=1, le=100, description="A preset is risky when its clears reach this percentage of its applies (7 days)"
    )
    merch_risky_min_applies: int = Field(
        10, ge=1, description="Applies over 7 days before a preset's clear rate is judged"
    )

    # --- product media (smplat.services.media; served at /media/...) -----------------
    media_dir: Path = Field(
        VAR_DIR / "media",
        description="Where uploaded product images and their variants are written (outside the source tree)",
    )
    media_max_upload_bytes: int = Field(
        5 * 1024 * 1024, ge=1024, description="Largest image file an operator may upload, in bytes"
    )
    media_max_pixels: int = Field(
        25_000_000, ge=10_000, description="Largest width x height an uploaded image may declare (decompression bombs)"
    )

    # --- metrics -------------------------------------------------------------------
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token Prometheus sends to GET /api/metrics; unset: the endpoint answers 404",
    )

    @field_validator("database_url")
    @classmethod
    def _normalise_db_url(cls, value: str) -> str:
        # Accept the common short forms and pin the driver we ship.
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://") :]
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://") :]
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def async_database_url(self) -> str:
        if self.is_sqlite:
            return self.database_url.replace("sqlite://", "sqlite+aiosqlite://", 1)
        return self.database_url

    @property
    def _dev_sinks(self) -> bool:
        return self.env == "dev" and self.sandbox_enabled

    @property
    def alert_email_recipients(self) -> list[str]:
        """Who gets alert emails: the setting, or in dev (with the sandboxes) the local SMTP sink's ops address."""
        value = self.alert_email_to.strip()
        if value.lower() == "off":
            return []
        if not value and self._dev_sinks:
            value = DEV_ALERT_EMAIL
        return [x.strip() for x in value.split(",") if x.strip()]

    @property
    def effective_alert_webhook_url(self) -> str:
        """Where alert webhooks go: the setting, or in dev (with the sandboxes) the local webhook sink."""
        value = self.alert_webhook_url.strip()
        if value.lower() == "off":
            return ""
        if not value and self._dev_sinks:
            return f"http://127.0.0.1:{self.sandbox_webhook_port}/hooks/alerts"
        return value

    @property
    def uses_stripe_sandbox(self) -> bool:
        return self.stripe_secret_key.get_secret_value() == SANDBOX_STRIPE_SECRET_KEY

    @property
    def effective_stripe_api_base(self) -> str:
        if self.stripe_api_base:
            return self.stripe_api_base.rstrip("/")
        if self.uses_stripe_sandbox:
            return f"http://127.0.0.1:{self.sandbox_stripe_port}"
        return STRIPE_API_BASE

    @property
    def uses_instagram_sandbox(self) -> bool:
        return self.instagram_access_token.get_secret_value() == SANDBOX_INSTAGRAM_TOKEN

    @property
    def effective_instagram_graph_base(self) -> str:
        if self.instagram_graph_base_url:
            return self.instagram_graph_base_url.rstrip("/")
        if self.uses_instagram_sandbox:
            return f"http://127.0.0.1:{self.sandbox_instagram_port}"
        return INSTAGRAM_GRAPH_BASE

    @property
    def effective_stripe_webhook_url(self) -> str:
        return self.sandbox_stripe_webhook_url or self.public_base_url.rstrip("/") + "/api/stripe/webhook"

    @property
    def allowed_origin_list(self) -> list[str]:
        """Origins whose pages may make credentialed API calls and open the websocket: the
        public base URL's, the extra `allowed_origins`, and in dev/test the web port on
        localhost and 127.0.0.1 (how developers and the browser tests open the shop)."""
        origins = [_origin(self.public_base_url)]
        origins += [_origin(o) for o in self.allowed_origins.split(",") if o.strip()]
        if self.env != "prod":
            origins += [f"http://localhost:{self.port}", f"http://127.0.0.1:{self.port}"]
        return list(dict.fromkeys(o for o in origins if o))

    @property
    def outbound_allowlist(self) -> frozenset[str]:
        """Lower-case `host` / `host:port` entries that may be private or loopback addresses."""
        entries = {e.strip().lower() for e in self.outbound_allowed_hosts.split(",") if e.strip()}
        if self.env != "prod":
            entries |= {"127.0.0.1", "localhost"}  # where the sandbox panel listens
        return frozenset(entries)

    def production_problems(self) -> list[str]:
        """Why this configuration must not serve the internet; empty unless SMPLAT_ENV=prod.

        The web app, `smplat run` and the jobs process refuse to start while this lists anything."""
        if self.env != "prod":
            return []
        problems = []
        key = self.secret_key.get_secret_value().strip() if self.secret_key is not None else ""
        if not key:
            problems.append("SMPLAT_SECRET_KEY is unset")
        elif key.lower() in PLACEHOLDER_SECRET_KEYS or len(key) < SECRET_KEY_MIN_LENGTH:
            problems.append(f"SMPLAT_SECRET_KEY is a placeholder or shorter than {SECRET_KEY_MIN_LENGTH} characters")
        if self.stripe_secret_key.get_secret_value() == SANDBOX_STRIPE_SECRET_KEY:
            problems.append("SMPLAT_STRIPE_SECRET_KEY is the public sandbox key")
        if self.stripe_webhook_secret.get_secret_value() == SANDBOX_STRIPE_WEBHOOK_SECRET:
            problems.append("SMPLAT_STRIPE_WEBHOOK_SECRET is the public sandbox secret (anyone could forge payments)")
        if not self.cookie_secure:
            problems.append("SMPLAT_COOKIE_SECURE is false")
        if self.sandbox_enabled:
            problems.append("SMPLAT_SANDBOX_ENABLED is true")
        if self.password_hash_cost != "standard":
            problems.append("SMPLAT_PASSWORD_HASH_COST is the test suites' cheap hash")
        return problems

    def production_refusal(self, process: str) -> str | None:
        """One line saying why `process` refuses to start in prod, or None when it may start."""
        problems = self.production_problems()
        if not problems:
            return None
        return f"{process}: refusing to start with SMPLAT_ENV=prod: " + "; ".join(problems) + " (see docs/security.md)"

    def secret(self) -> str:
        """The secret key; generated once into var/secret.key when not configured."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.env == "prod":
            raise RuntimeError("SMPLAT_SECRET_KEY must be set in prod")
        path = VAR_DIR / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


def _origin(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-case, default ports dropped (how browsers send Origin)."""
    parsed = urlsplit(url.strip())
    if not parsed.scheme or not parsed.hostname:
        return ""
    port = parsed.port
    default = {"http": 80, "https": 443}.get(parsed.scheme.lower())
    host = parsed.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parsed.scheme.lower()}://{host}" + (f":{port}" if port and port != default else "")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests change the environment and call this to re-read it."""
    get_settings.cache_clear()
