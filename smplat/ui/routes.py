"""Every page path in one place, so links and tests never spell a URL twice."""

HOME = "/"
SERVICES = "/services"
PRODUCT = "/services/[slug]"
CART = "/cart"
CHECKOUT_SUCCESS = "/checkout/success"
CHECKOUT_CANCEL = "/checkout/cancel"
SIGN_IN = "/signin"
SIGN_UP = "/signup"
FORGOT_PASSWORD = "/forgot-password"
RESET_PASSWORD = "/reset-password"

ACCOUNT = "/account"
ACCOUNT_ORDERS = "/account/orders"
ACCOUNT_SETTINGS = "/account/settings"
ACCOUNT_SECURITY = "/account/security"  # two-factor (its own page)
ACCOUNT_PROFILES = "/account/profiles"  # linked social profiles (its own page)
ACCOUNT_NOTIFICATIONS = "/account/notifications"  # email preferences per kind and channel
ACCOUNT_RESELLER = "/account/reseller"  # wallet, API keys, mass order (resellers)
ACCOUNT_SUBSCRIPTIONS = "/account/subscriptions"  # plan, status, next renewal; cancel / resume
ACCOUNT_PRIVACY = "/account/privacy"  # export my data, delete my account
API_ACCOUNT_EXPORT = "/api/account/export"  # the signed-in customer's data as a ZIP
ACCOUNT_BILLING = "/account/billing"  # billing details and invoices
CONFIRM_EMAIL = "/confirm-email"  # opened from the email-change link; works signed out too

ADMIN = "/admin"
ADMIN_CATALOG = "/admin/catalog"
ADMIN_CATEGORIES = "/admin/categories"
ADMIN_BUNDLES = "/admin/bundles"
ADMIN_ORDERS = "/admin/orders"
ADMIN_CUSTOMERS = "/admin/customers"
ADMIN_CUSTOMER = "/admin/customers/[user_id]"
ADMIN_RESELLERS = "/admin/resellers"
ADMIN_JOBS = "/admin/jobs"
ADMIN_SALES = "/admin/sales"

API_SESSION = "/api/auth/session"
API_SIGNOUT = "/api/auth/signout"
API_STRIPE_WEBHOOK = "/api/stripe/webhook"


def product(slug: str) -> str:
    return f"{SERVICES}/{slug}"


def product_for_profile(slug: str, profile_id: int | str) -> str:
    """The product page pre-filled for one of the customer's linked profiles."""
    return f"{SERVICES}/{slug}?profile={profile_id}"


TERMS = "/terms"
PRIVACY = "/privacy"
IMPRINT = "/imprint"
ADMIN_CONTENT = "/admin/content"
ADMIN_SEARCH_INSIGHTS = "/admin/search-insights"
ADMIN_ANALYTICS = "/admin/analytics"
ADMIN_MERCHANDISING = "/admin/merchandising"
ADMIN_PROVIDERS = "/admin/providers"
ADMIN_DEAD_LETTERS = "/admin/dead-letters"
ADMIN_FULFILMENT = "/admin/fulfilment"
ADMIN_ORDER = "/admin/orders/[number]"
ADMIN_PROVIDER = "/admin/providers/[provider_id]"
ADMIN_PRODUCT_ROUTING = "/admin/catalog/[slug]"
ADMIN_STAFF = "/admin/staff"
# The product editor works on the row in the URL: a never-published product, or the draft of a
# published one (opening a published product creates its draft and redirects there).
ADMIN_PRODUCT_EDITOR = "/admin/products/[product_id]"
ADMIN_PRODUCT_EDITOR_OPTIONS = "/admin/products/[product_id]/options"
ADMIN_PRODUCT_EDITOR_FIELDS = "/admin/products/[product_id]/fields"
ADMIN_PRODUCT_EDITOR_PRESETS = "/admin/products/[product_id]/presets"
ADMIN_PRODUCT_EDITOR_PLANS = "/admin/products/[product_id]/plans"
ADMIN_PRODUCT_EDITOR_MEDIA = "/admin/products/[product_id]/media"
ADMIN_PRODUCT_EDITOR_PREVIEW = "/admin/products/[product_id]/preview"
ADMIN_AUDIT = "/admin/audit"
ADMIN_INVOICES = "/admin/invoices"
NOT_FOUND = "404"


def admin_order(number: str) -> str:
    return f"{ADMIN_ORDERS}/{number}"


def admin_customer(user_id: int) -> str:
    return f"{ADMIN_CUSTOMERS}/{user_id}"


def admin_provider(provider_id: int) -> str:
    return f"{ADMIN_PROVIDERS}/{provider_id}"


def admin_product_routing(slug: str) -> str:
    return f"{ADMIN_CATALOG}/{slug}"


def admin_product_editor_new() -> str:
    """The details page in create mode (the `[product_id]` of the editor route is "new")."""
    return "/admin/products/new"


def admin_product_editor(product_id: int, tab: str = "") -> str:
    """The editor of one product row; `tab` is "", "options", "fields", "presets", "plans",
    "media" or "preview"."""
    return f"/admin/products/{product_id}" + (f"/{tab}" if tab else "")


ACCOUNT_ORDER = "/account/orders/[number]"
TRACK_ORDER = "/track/[token]"
VERIFY_EMAIL = "/verify-email"


def account_order(number: str) -> str:
    return f"{ACCOUNT_ORDERS}/{number}"


def track_order(token: str) -> str:
    """The guest's read-only order page, opened from the signed link in the receipt."""
    return f"/track/{token}"


def reorder(slug: str, item_id: int | str) -> str:
    """ "Order again": the product page pre-filled with an order line's configuration and link
    (the page checks on the server that the line is the signed-in customer's)."""
    return f"{SERVICES}/{slug}?reorder={item_id}"
