"""Idempotent demo data: a catalog that looks like a real shop, the sandbox provider and demo accounts.

Rows are matched by their natural keys (slug, key, email, external id), so running the
seed again creates nothing and never overwrites what an operator edited since. No
orders are invented: the shop starts empty of sales. The caller commits (`session_scope`
does).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlmodel import Session, SQLModel, select

from smplat.models.accounts import Role, User
from smplat.models.base import utcnow
from smplat.models.catalog import (
    AddOnPricingMode,
    Category,
    CustomFieldType,
    OptionSelection,
    PlanBilling,
    PlanInterval,
    Platform,
    Product,
    ProductAddOn,
    ProductBundle,
    ProductBundleItem,
    ProductCustomField,
    ProductKind,
    ProductMedia,
    ProductOption,
    ProductOptionGroup,
    ProductPlan,
    ProductPreset,
    ProductStatus,
)
from smplat.models.providers import Provider, ProviderService, RouteStep, ServiceRoute
from smplat.services.accounts import hash_password
from smplat.services.secrets_box import encrypt
from smplat.settings import PROJECT_ROOT, Settings, get_settings

CURRENCY = "EUR"

# (email, password, role, full name). Demo only: `smplat seed` prints these for local use.
DEMO_ACCOUNTS: list[tuple[str, str, str, str]] = [
    ("admin@smplat.local", "admin-demo-pass", Role.ADMIN.value, "Ada Admin"),
    ("operator@smplat.local", "operator-demo-pass", Role.OPERATOR.value, "Otto Operator"),
    ("client@smplat.local", "client-demo-pass", Role.CUSTOMER.value, "Clara Client"),
]

SANDBOX_PROVIDER_SLUG = "sandbox-panel"
SANDBOX_PANEL_HOST = "127.0.0.1"
# The key the local panel sandbox accepts; real panels get theirs from the admin.
SANDBOX_API_KEY = "sandbox-demo-key"

# Validation patterns for what customers type in (also shown as the field's rule).
INSTAGRAM_HANDLE_RE = r"^@?[A-Za-z0-9._]{1,30}$"
INSTAGRAM_POST_RE = r"^https://(www\.)?instagram\.com/(p|reel|tv)/[A-Za-z0-9_-]+/?(\?.*)?$"
TIKTOK_HANDLE_RE = r"^@?[A-Za-z0-9._]{2,24}$"
TIKTOK_VIDEO_RE = r"^https://((www|m)\.)?tiktok\.com/@[A-Za-z0-9._]+/video/[0-9]+/?(\?.*)?$|^https://(vm|vt)\.tiktok\.com/[A-Za-z0-9]+/?$"
YOUTUBE_VIDEO_RE = r"^https://((www|m)\.)?(youtube\.com/(watch\?v=|shorts/)|youtu\.be/)[A-Za-z0-9_-]{6,}.*$"
YOUTUBE_CHANNEL_RE = r"^https://(www\.)?youtube\.com/(@[A-Za-z0-9._-]+|channel/[A-Za-z0-9_-]+|c/[A-Za-z0-9._-]+)/?$"


@dataclass(frozen=True)
class TargetField:
    key: str
    label: str
    field_type: str
    regex: str
    message: str
    placeholder: str


@dataclass(frozen=True)
class AddOnSpec:
    key: str
    label: str
    description: str
    pricing_mode: str
    amount_minor: int = 0
    percentage_bps: int = 0
    service_ref: str | None = None  # external service id, for service_override


@dataclass(frozen=True)
class GroupSpec:
    """An extra option group; its option keys may be an order type's parameter values."""

    key: str
    name: str
    options: list[tuple[str, str, str, int]]  # (key, label, description, price delta in minor units)
    sort_order: int


@dataclass(frozen=True)
class FieldSpec:
    """An extra custom field (in customer words), shown when `visible_when` (an option ref) is chosen."""

    key: str
    label: str
    field_type: str
    placeholder: str
    help_text: str
    regex: str = ""
    message: str = ""
    min_value: int | None = None
    max_value: int | None = None
    default: str = ""
    visible_when: str | None = None
    sort_order: int = 40


@dataclass(frozen=True)
class ProductSpec:
    slug: str
    category: str
    title: str
    tagline: str
    description: str
    kind: str
    unit_label: str
    packages: list[tuple[int, int]]  # (service units, total price in minor units)
    popularity: int
    delivery_hours: int
    service_ref: str  # external id of the sandbox service that fulfils it
    target: TargetField
    add_ons: list[AddOnSpec]
    express_minor: int
    is_featured: bool = False
    subscription_minor: int | None = None  # monthly price of the subscription plan
    extra: dict[str, Any] = field(default_factory=dict)
    per_day_calculator: bool = True  # "about 334 followers a day" (not for a package or per-post likes)
    speeds: bool = True  # the delivery speed group (gradual only shows where a route drip-feeds)
    groups: list[GroupSpec] = field(default_factory=list)
    fields: list[FieldSpec] = field(default_factory=list)
    # (external service id, priority, conditions); default: one route to `service_ref`
    routes: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)


IG_HANDLE = TargetField(
    "username",
    "Instagram username",
    CustomFieldType.HANDLE.value,
    INSTAGRAM_HANDLE_RE,
    "Use 1–30 letters, numbers, dots or underscores, e.g. @yourbrand.",
    "@yourbrand",
)
IG_POST = TargetField(
    "post_link",
    "Post or reel link",
    CustomFieldType.URL.value,
    INSTAGRAM_POST_RE,
    "Paste the link of a public post or reel, e.g. https://www.instagram.com/p/Cx1AbC2dEf/.",
    "https://www.instagram.com/p/…",
)
TT_HANDLE = TargetField(
    "username",
    "TikTok username",
    CustomFieldType.HANDLE.value,
    TIKTOK_HANDLE_RE,
    "Use 2–24 letters, numbers, dots or underscores, e.g. @yourbrand.",
    "@yourbrand",
)
TT_VIDEO = TargetField(
    "video_link",
    "TikTok video link",
    CustomFieldType.URL.value,
    TIKTOK_VIDEO_RE,
    "Paste the link of a public video, e.g. https://www.tiktok.com/@you/video/7301234567890.",
    "https://www.tiktok.com/@you/video/…",
)
YT_VIDEO = TargetField(
    "video_link",
    "YouTube video link",
    CustomFieldType.URL.value,
    YOUTUBE_VIDEO_RE,
    "Paste the link of a public video or short, e.g. https://youtu.be/dQw4w9WgXcQ.",
    "https://www.youtube.com/watch?v=…",
)
YT_CHANNEL = TargetField(
    "channel_link",
    "YouTube channel link",
    CustomFieldType.URL.value,
    YOUTUBE_CHANNEL_RE,
    "Paste your channel link, e.g. https://www.youtube.com/@yourchannel.",
    "https://www.youtube.com/@…",
)

PRIORITY_START = AddOnSpec(
    "priority-start",
    "Priority start",
    "Your order jumps the queue and starts within 15 minutes.",
    AddOnPricingMode.FLAT.value,
    amount_minor=290,
)
REFILL_GUARANTEE = AddOnSpec(
    "refill-guarantee",
    "30-day refill guarantee",
    "Any drop in the first 30 days is topped up free.",
    AddOnPricingMode.PERCENTAGE.value,
    percentage_bps=1500,
)

CATEGORIES = [
    (
        "instagram",
        "Instagram",
        Platform.INSTAGRAM.value,
        "Followers, likes, comments and story views for profiles, posts and reels.",
        10,
    ),
    ("tiktok", "TikTok", Platform.TIKTOK.value, "Followers, likes and views for creators and brands on TikTok.", 20),
    ("youtube", "YouTube", Platform.YOUTUBE.value, "Views and subscribers for videos, shorts and channels.", 30),
]

PRODUCTS: list[ProductSpec] = [
    ProductSpec(
        "instagram-followers",
        "instagram",
        "Instagram Followers",
        "Grow a profile people trust at first glance",
        "Real-looking followers delivered at a natural pace, with no password needed. "
        "Choose a package, how fast it arrives, and add a refill guarantee.",
        ProductKind.FOLLOWERS.value,
        "followers",
        [(500, 690), (1000, 1200), (2500, 2900), (5000, 5500)],
        popularity=98,
        delivery_hours=48,
        service_ref="101",
        target=IG_HANDLE,
        express_minor=390,
        is_featured=True,
        add_ons=[
            PRIORITY_START,
            REFILL_GUARANTEE,
            AddOnSpec(
                "premium-accounts",
                "Premium accounts",
                "Followers with avatars, posts and bios, from our premium source.",
                AddOnPricingMode.SERVICE_OVERRIDE.value,
                amount_minor=490,
                service_ref="102",
            ),
        ],
    ),
    ProductSpec(
        "instagram-likes",
        "instagram",
        "Instagram Likes",
        "Make every post look loved",
        "Likes on one post or reel, starting minutes after payment.",
        ProductKind.LIKES.value,
        "likes",
        [(250, 390), (500, 590), (1000, 990), (2500, 2190)],
        popularity=91,
        delivery_hours=6,
        service_ref="103",
        target=IG_POST,
        express_minor=190,
        add_ons=[PRIORITY_START, REFILL_GUARANTEE],
    ),
    ProductSpec(
        "instagram-comments",
        "instagram",
        "Instagram Comments",
        "Start the conversation under your post",
        "Positive, on-topic comments, or your own words posted by distinct accounts.",
        ProductKind.COMMENTS.value,
        "comments",
        [(10, 490), (25, 990), (50, 1790), (100, 3190)],
        popularity=64,
        delivery_hours=24,
        service_ref="104",
        target=IG_POST,
        express_minor=290,
        add_ons=[PRIORITY_START, REFILL_GUARANTEE],
        extra={"comment_styles": True},
    ),
    ProductSpec(
        "instagram-story-views",
        "instagram",
        "Instagram Story Views",
        "Put your stories in front of more eyes",
        "Views on every active story of the profile, delivered within hours.",
        ProductKind.VIEWS.value,
        "story views",
        [(500, 290), (1000, 490), (2500, 990), (5000, 1690)],
        popularity=58,
        delivery_hours=4,
        service_ref="106",
        target=IG_HANDLE,
        express_minor=150,
        add_ons=[PRIORITY_START, REFILL_GUARANTEE],
    ),
    ProductSpec(
        "instagram-growth-autopilot",
        "instagram",
        "Instagram Growth Autopilot",
        "Steady growth every month, hands-free",
        "A monthly subscription: new followers delivered gradually all month, a fresh batch every period. "
        "Cancel any time from your dashboard.",
        ProductKind.SUBSCRIPTION.value,
        "followers / month",
        [(1000, 2900), (2500, 5900), (5000, 9900)],
        popularity=80,
        delivery_hours=720,
        service_ref="101",
        target=IG_HANDLE,
        express_minor=490,
        is_featured=True,
        subscription_minor=2900,
        add_ons=[
            AddOnSpec(
                "monthly-report",
                "Monthly growth report",
                "A PDF report of your follower growth each month.",
                AddOnPricingMode.FLAT.value,
                amount_minor=290,
            ),
            REFILL_GUARANTEE,
        ],
    ),
    ProductSpec(
        "tiktok-followers",
        "tiktok",
        "TikTok Followers",
        "Look like the creator you are becoming",
        "Followers for your TikTok account, delivered steadily with no login required.",
        ProductKind.FOLLOWERS.value,
        "followers",
        [(500, 590), (1000, 990), (2500, 2390), (5000, 4490)],
        popularity=88,
        delivery_hours=36,
        service_ref="201",
        target=TT_HANDLE,
        express_minor=290,
        is_featured=True,
        add_ons=[PRIORITY_START, REFILL_GUARANTEE],
    ),
    ProductSpec(
        "tiktok-likes",
        "tiktok",
        "TikTok Likes",
        "Give your video the push the algorithm notices",
        "Likes on one TikTok video, starting within the hour.",
        ProductKind.LIKES.value,
        "likes",
        [(500, 290), (1000, 490), (2500, 1090), (5000, 1990)],
        popularity=76,
        delivery_hours=6,
        service_ref="202",
        target=TT_VIDEO,
        express_minor=150,
        add_ons=[PRIORITY_START, REFILL_GUARANTEE],
    ),
    ProductSpec(
        "tiktok-views",
        "tiktok",
        "TikTok Views",
        "Get your video off the ground",
        "Views on one TikTok video, delivered fast and at scale.",
        ProductKind.VIEWS.value,
        "views",
        [(5000, 290), (10000, 490), (25000, 990), (50000, 1790)],
        popularity=83,
        delivery_hours=3,
        service_ref="203",
        target=TT_VIDEO,
        express_minor=150,
        add_ons=[PRIORITY_START, REFILL_GUARANTEE],
    ),
    ProductSpec(
        "youtube-views",
        "youtube",
        "YouTube Views",
        "Help a new video find its audience",
        "Views on one YouTube video or short, with natural retention.",
        ProductKind.VIEWS.value,
        "views",
        [(1000, 390), (2500, 890), (5000, 1590), (10000, 2890)],
        popularity=72,
        delivery_hours=24,
        service_ref="301",
        target=YT_VIDEO,
        express_minor=250,
        add_ons=[PRIORITY_START, REFILL_GUARANTEE],
    ),
    ProductSpec(
        "youtube-subscribers",
        "youtube",
        "YouTube Subscribers",
        "Reach your next channel milestone sooner",
        "Subscribers for your channel, delivered gradually to stay natural.",
        ProductKind.SUBSCRIBERS.value,
        "subscribers",
        [(100, 490), (250, 1090), (500, 1990), (1000, 3690)],
        popularity=69,
        delivery_hours=72,
        service_ref="302",
        target=YT_CHANNEL,
        express_minor=390,
        is_featured=True,
        add_ons=[PRIORITY_START, REFILL_GUARANTEE],
    ),
]

INSTAGRAM_USERNAMES_RE = r"\s*@?[A-Za-z0-9._]{1,30}(\s*\n\s*@?[A-Za-z0-9._]{1,30})*\s*"
HASHTAG_RE = r"^#?[A-Za-z0-9_]{1,100}$"

# Products of the other order types (docs/providers.md, "Order types"): each routes to the
# sandbox service of its type (SANDBOX_TYPED_SERVICES) and asks for that type's parameters.
PRODUCTS += [
    ProductSpec(
        "instagram-auto-likes",
        "instagram",
        "Instagram Auto Likes",
        "Every new post gets its likes, automatically",
        "A subscription at the panel: likes arrive on each new post you publish, for the number "
        "of posts you choose, until it expires. No links to paste, just your username.",
        ProductKind.LIKES.value,
        "likes per post",
        [(100, 990), (250, 1990), (500, 3490), (1000, 5990)],
        popularity=61,
        delivery_hours=720,
        service_ref="401",
        target=IG_HANDLE,
        express_minor=0,
        add_ons=[PRIORITY_START],
        speeds=False,
        per_day_calculator=False,
        groups=[
            GroupSpec(
                "posts",
                "New posts covered",
                [
                    ("5", "Next 5 posts", "Likes on your next 5 posts.", 0),
                    ("10", "Next 10 posts", "Likes on your next 10 posts.", 890),
                    ("20", "Next 20 posts", "Likes on your next 20 posts.", 1990),
                ],
                20,
            ),
            GroupSpec(
                "delay",
                "When likes start",
                [
                    ("0", "Right after posting", "Likes start as soon as the post is live.", 0),
                    ("15", "15 minutes after posting", "A short pause looks more natural.", 0),
                    ("60", "1 hour after posting", "For posts you want to settle first.", 0),
                ],
                30,
            ),
            GroupSpec(
                "expiry_days",
                "Ends after",
                [
                    ("30", "30 days", "Posts published in the next 30 days are covered.", 0),
                    ("90", "90 days", "Posts published in the next 90 days are covered.", 0),
                ],
                40,
            ),
        ],
    ),
    ProductSpec(
        "instagram-poll-votes",
        "instagram",
        "Instagram Poll Votes",
        "Tip your poll the way you want",
        "Votes for the answer you pick on a poll in one of your posts.",
        ProductKind.OTHER.value,
        "votes",
        [(100, 290), (250, 590), (500, 990), (1000, 1790)],
        popularity=40,
        delivery_hours=12,
        service_ref="408",
        target=IG_POST,
        express_minor=150,
        add_ons=[PRIORITY_START],
        fields=[
            FieldSpec(
                "answer_number",
                "Answer to vote for",
                CustomFieldType.INTEGER.value,
                "1",
                "The answer's place in the poll: 1 for the first answer, 2 for the second…",
                min_value=1,
                max_value=4,
                default="1",
            )
        ],
    ),
    ProductSpec(
        "instagram-starter-package",
        "instagram",
        "Instagram Starter Package",
        "A new profile's first month, in one package",
        "The panel's starter package for a new profile: followers, likes on recent posts and "
        "story views, delivered together. One package per profile.",
        ProductKind.OTHER.value,
        "package",
        [(1, 1490)],
        popularity=35,
        delivery_hours=72,
        service_ref="402",
        target=IG_HANDLE,
        express_minor=290,
        add_ons=[PRIORITY_START],
        per_day_calculator=False,
    ),
    ProductSpec(
        "instagram-mentions",
        "instagram",
        "Instagram Mentions",
        "Get your post in front of the right people",
        "Accounts are mentioned in the comments of your post: a list you give, the followers "
        "of an account like yours, people using a hashtag, or the people who liked a post.",
        ProductKind.OTHER.value,
        "mentions",
        [(100, 490), (250, 990), (500, 1790), (1000, 2990)],
        popularity=45,
        delivery_hours=24,
        service_ref="404",
        target=IG_POST,
        express_minor=190,
        add_ons=[PRIORITY_START],
        groups=[
            GroupSpec(
                "audience",
                "Who gets mentioned",
                [
                    ("followers", "Followers of an account", "Followers of an account like yours.", 0),
                    ("hashtag", "People using a hashtag", "Accounts that recently posted with a hashtag.", 0),
                    ("likers", "People who liked a post", "Accounts that liked a post you name.", 0),
                    ("custom", "My own list", "Exactly the accounts you list, one per line.", 300),
                ],
                30,
            )
        ],
        fields=[
            FieldSpec(
                "username",
                "Account whose followers are mentioned",
                CustomFieldType.HANDLE.value,
                "@similarbrand",
                "A public account with an audience like yours.",
                INSTAGRAM_HANDLE_RE,
                "Use 1–30 letters, numbers, dots or underscores, e.g. @similarbrand.",
                visible_when="audience:followers",
            ),
            FieldSpec(
                "hashtag",
                "Hashtag",
                CustomFieldType.TEXT.value,
                "#travel",
                "One hashtag, with or without #.",
                HASHTAG_RE,
                "Use one hashtag of letters, numbers or underscores, e.g. #travel.",
                visible_when="audience:hashtag",
            ),
            FieldSpec(
                "media",
                "Post whose likers are mentioned",
                CustomFieldType.URL.value,
                "https://www.instagram.com/p/…",
                "A public post; the people who liked it are mentioned.",
                INSTAGRAM_POST_RE,
                "Paste the link of a public post, e.g. https://www.instagram.com/p/Cx1AbC2dEf/.",
                visible_when="audience:likers",
            ),
            FieldSpec(
                "usernames",
                "Accounts to mention",
                CustomFieldType.TEXTAREA.value,
                "@friend_one\n@friend_two",
                "One Instagram username per line, as many as the mentions you buy.",
                INSTAGRAM_USERNAMES_RE,
                "Put one Instagram username per line, e.g. @friend_one.",
                visible_when="audience:custom",
            ),
        ],
        routes=[
            ("404", 10, {"options": ["audience:followers"]}),
            ("406", 10, {"options": ["audience:hashtag"]}),
            ("407", 10, {"options": ["audience:likers"]}),
            ("403", 10, {"options": ["audience:custom"]}),
        ],
    ),
]

# (external id, name, type, category, rate per 1000, min, max, refill, refill days, cancel, dripfeed)
SANDBOX_SERVICES: list[tuple[str, str, str, str, str, int, int, bool, int | None, bool, bool]] = [
    (
        "101",
        "Instagram Followers — Standard",
        "Default",
        "Instagram Followers",
        "0.950000",
        50,
        100000,
        True,
        30,
        True,
        True,
    ),
    (
        "102",
        "Instagram Followers — Premium (avatars & posts)",
        "Default",
        "Instagram Followers",
        "2.400000",
        50,
        50000,
        True,
        60,
        True,
        True,
    ),
    (
        "103",
        "Instagram Likes — Real-looking",
        "Default",
        "Instagram Likes",
        "0.350000",
        20,
        100000,
        True,
        30,
        True,
        False,
    ),
    (
        "104",
        "Instagram Comments — Random positive",
        "Default",
        "Instagram Comments",
        "12.000000",
        5,
        1000,
        False,
        None,
        False,
        False,
    ),
    (
        "105",
        "Instagram Comments — Custom",
        "Custom Comments",
        "Instagram Comments",
        "18.000000",
        5,
        1000,
        False,
        None,
        False,
        False,
    ),
    ("106", "Instagram Story Views", "Default", "Instagram Views", "0.120000", 100, 200000, False, None, False, False),
    ("201", "TikTok Followers", "Default", "TikTok Followers", "1.100000", 50, 100000, True, 30, True, True),
    ("202", "TikTok Likes", "Default", "TikTok Likes", "0.280000", 50, 100000, True, 30, False, False),
    ("203", "TikTok Views", "Default", "TikTok Views", "0.020000", 500, 10000000, False, None, False, True),
    (
        "301",
        "YouTube Views — High retention",
        "Default",
        "YouTube Views",
        "0.850000",
        500,
        1000000,
        True,
        30,
        False,
        True,
    ),
    ("302", "YouTube Subscribers", "Default", "YouTube Subscribers", "9.500000", 50, 20000, True, 30, False, False),
]

# Sandbox services of the other order types (the sandbox lists them with its `extra_types`
# knob, on in `smplat run`); rate per 1000, per package for Package. Same columns as above.
SANDBOX_TYPED_SERVICES: list[tuple[str, str, str, str, str, int, int, bool, int | None, bool, bool]] = [
    (
        "401",
        "Instagram Auto Likes — Subscription",
        "Subscriptions",
        "Instagram Likes",
        "0.400000",
        50,
        5000,
        False,
        None,
        False,
        False,
    ),
    (
        "402",
        "Instagram Starter — Package",
        "Package",
        "Instagram Packages",
        "5.000000",
        1,
        1,
        False,
        None,
        False,
        False,
    ),
    (
        "403",
        "Instagram Mentions — Custom List",
        "Mentions Custom List",
        "Instagram Mentions",
        "3.000000",
        5,
        1000,
        False,
        None,
        False,
        False,
    ),
    (
        "404",
        "Instagram Mentions — User Followers",
        "Mentions User Followers",
        "Instagram Mentions",
        "3.000000",
        100,
        10000,
        False,
        None,
        False,
        False,
    ),
    (
        "405",
        "Instagram Mentions — With Hashtags",
        "Mentions with Hashtags",
        "Instagram Mentions",
        "3.500000",
        100,
        10000,
        False,
        None,
        False,
        False,
    ),
    (
        "406",
        "Instagram Mentions — Hashtag",
        "Mentions Hashtag",
        "Instagram Mentions",
        "3.000000",
        100,
        10000,
        False,
        None,
        False,
        False,
    ),
    (
        "407",
        "Instagram Mentions — Media Likers",
        "Mentions Media Likers",
        "Instagram Mentions",
        "3.000000",
        100,
        10000,
        False,
        None,
        False,
        False,
    ),
    ("408", "Instagram Poll Votes", "Poll", "Instagram Polls", "1.000000", 100, 10000, False, None, False, False),
    (
        "409",
        "Instagram Comment Likes",
        "Comment Likes",
        "Instagram Likes",
        "2.000000",
        20,
        5000,
        False,
        None,
        False,
        False,
    ),
]

BUNDLES = [
    (
        "instagram-starter-kit",
        "instagram-followers",
        "Instagram starter kit",
        "Followers plus likes and story views so the new audience sees activity. 10 % off the extras.",
        1000,
        [("instagram-likes", "popular"), ("instagram-story-views", "popular")],
    ),
    (
        "tiktok-viral-pack",
        "tiktok-followers",
        "TikTok viral pack",
        "Followers plus views on your latest video. 15 % off the views.",
        1500,
        [("tiktok-views", "popular")],
    ),
]

SEEDED_TABLES: list[type[SQLModel]] = [
    User,
    Category,
    Product,
    ProductOptionGroup,
    ProductOption,
    ProductAddOn,
    ProductCustomField,
    ProductPreset,
    ProductPlan,
    ProductMedia,
    ProductBundle,
    ProductBundleItem,
    Provider,
    ProviderService,
    ServiceRoute,
]


def format_euro(minor: int) -> str:
    """€12 for whole euros, €12.90 otherwise (preset labels only)."""
    euros, cents = divmod(minor, 100)
    return f"€{euros:,}" if cents == 0 else f"€{euros:,}.{cents:02d}"


def _delivery_days(units: int, hours: int) -> int:
    # bigger packages spread over more days so growth looks organic
    base_days = max(1, round(hours / 24))
    return base_days + (1 if units >= 2500 else 0) + (1 if units >= 5000 else 0)


def _media_checksum(slug: str) -> str:
    path = PROJECT_ROOT / "assets" / "products" / f"{slug}.svg"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


class _Seeder:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.created: Counter[str] = Counter()

    def get_or_create(self, model: type[SQLModel], lookup: dict[str, Any], **values: Any) -> Any:
        row = self.session.exec(select(model).filter_by(**lookup)).first()
        if row is not None:
            return row
        row = model(**lookup, **values)
        self.session.add(row)
        self.session.flush()  # ids for the children that follow
        self.created[model.__tablename__] += 1
        return row


def seed_demo(session: Session) -> dict[str, int]:
    """Create the demo shop; returns the number of rows created per table (0 on a re-run)."""
    seeder = _Seeder(session)
    _seed_accounts(seeder)
    categories = _seed_categories(seeder)
    services = _seed_provider(seeder)
    products = {spec.slug: _seed_product(seeder, spec, categories[spec.category], services) for spec in PRODUCTS}
    _seed_bundles(seeder, products)
    return {model.__tablename__: seeder.created[model.__tablename__] for model in SEEDED_TABLES}


def _seed_accounts(seeder: _Seeder) -> None:
    for email, password, role, full_name in DEMO_ACCOUNTS:
        if seeder.session.exec(select(User).where(User.email == email)).first() is not None:
            continue  # hashing is slow on purpose; skip it for accounts that exist
        seeder.get_or_create(
            User, {"email": email}, password_hash=hash_password(password), role=role, full_name=full_name
        )


def _seed_categories(seeder: _Seeder) -> dict[str, Category]:
    return {
        slug: seeder.get_or_create(
            Category, {"slug": slug}, name=name, platform=platform, description=description, sort_order=sort_order
        )
        for slug, name, platform, description, sort_order in CATEGORIES
    }


def sandbox_base_url(settings: Settings | None = None) -> str:
    """The panel sandbox's API v2 endpoint on the configured port (SMPLAT_SANDBOX_PANEL_PORT)."""
    port = (settings or get_settings()).sandbox_panel_port
    return f"http://{SANDBOX_PANEL_HOST}:{port}/api/v2"


_SANDBOX_URL_RE = re.compile(r"^http://(127\.0\.0\.1|localhost):[0-9]{1,5}/api/v2/?$")


def align_sandbox_provider(session: Session, settings: Settings | None = None) -> bool:
    """Point the seeded sandbox provider at the configured sandbox port (a shop started with
    another SMPLAT_SANDBOX_PANEL_PORT). Only a local sandbox URL is rewritten; True when changed."""
    provider = session.exec(select(Provider).where(Provider.slug == SANDBOX_PROVIDER_SLUG)).first()
    wanted = sandbox_base_url(settings)
    if provider is None or provider.base_url == wanted or not _SANDBOX_URL_RE.match(provider.base_url):
        return False
    provider.base_url = wanted
    session.add(provider)
    return True


def _seed_provider(seeder: _Seeder) -> dict[str, ProviderService]:
    align_sandbox_provider(seeder.session)
    provider = seeder.get_or_create(
        Provider,
        {"slug": SANDBOX_PROVIDER_SLUG},
        name="Sandbox Panel",
        base_url=sandbox_base_url(),
        api_key_encrypted=encrypt(SANDBOX_API_KEY),
        low_balance_threshold=Decimal("25.0000"),
        balance_currency=CURRENCY,
        rate_limit_per_second=10,
        timeout_seconds=10,
        dialect={"note": "local panel API v2 sandbox", "lookup_by_ref": True},
    )
    services: dict[str, ProviderService] = {}
    for ext_id, name, type_, category, rate, min_q, max_q, refill, refill_days, cancel, dripfeed in (
        SANDBOX_SERVICES + SANDBOX_TYPED_SERVICES
    ):
        services[ext_id] = seeder.get_or_create(
            ProviderService,
            {"provider_id": provider.id, "external_service_id": ext_id},
            name=name,
            type=type_,
            category=category,
            rate_per_1000=Decimal(rate),
            currency=CURRENCY,
            min_quantity=min_q,
            max_quantity=max_q,
            refill=refill,
            refill_window_days=refill_days,
            cancel=cancel,
            dripfeed=dripfeed,
        )
    return services


def _seed_product(
    seeder: _Seeder, spec: ProductSpec, category: Category, services: dict[str, ProviderService]
) -> Product:
    base_price = spec.packages[0][1]
    image = f"/products/{spec.slug}.svg"
    product = seeder.get_or_create(
        Product,
        {"slug": spec.slug},
        category_id=category.id,
        title=spec.title,
        tagline=spec.tagline,
        description=spec.description,
        platform=category.platform,
        kind=spec.kind,
        status=ProductStatus.ACTIVE.value,
        published_at=utcnow(),  # seeded products are live, as if an operator had published them
        base_price_minor=base_price,
        currency=CURRENCY,
        unit_label=spec.unit_label,
        min_quantity=spec.packages[0][0],
        max_quantity=spec.packages[-1][0],
        delivery_estimate_hours=spec.delivery_hours,
        popularity_score=spec.popularity,
        is_featured=spec.is_featured,
    )
    pid = product.id

    # --- package size ----------------------------------------------------------
    package = seeder.get_or_create(
        ProductOptionGroup,
        {"product_id": pid, "key": "package"},
        name="Package size",
        selection=OptionSelection.SINGLE.value,
        required=True,
        sort_order=10,
    )
    for position, (units, price) in enumerate(spec.packages):
        days = _delivery_days(units, spec.delivery_hours)
        seeder.get_or_create(
            ProductOption,
            {"group_id": package.id, "key": str(units)},
            label=f"{units:,} {spec.unit_label}",
            price_delta_minor=price - base_price,
            quantity=units,
            sort_order=position * 10,
            blueprint={
                "tagline": f"{units:,} {spec.unit_label} for {format_euro(price)}",
                "delivery_sla": f"Starts within 1 hour · complete in about {days} day{'s' if days > 1 else ''}",
                "hero_image": image,
                **(
                    {"calculator": {"expression": "amount / days", "sample_inputs": {"amount": units, "days": days}}}
                    if spec.per_day_calculator
                    else {}
                ),
            },
        )

    # --- delivery speed (gradual is offered only where a route drip-feeds: catalog) ---
    if spec.speeds:
        _seed_speeds(seeder, spec, pid, image)
    for group_spec in spec.groups:
        group = seeder.get_or_create(
            ProductOptionGroup,
            {"product_id": pid, "key": group_spec.key},
            name=group_spec.name,
            selection=OptionSelection.SINGLE.value,
            required=True,
            sort_order=group_spec.sort_order,
        )
        for position, (key, label, description, delta) in enumerate(group_spec.options):
            seeder.get_or_create(
                ProductOption,
                {"group_id": group.id, "key": key},
                label=label,
                description=description,
                price_delta_minor=delta,
                sort_order=position * 10,
                blueprint={"tagline": description, "delivery_sla": label, "hero_image": image},
            )
    _seed_product_rest(seeder, spec, pid, image, services, base_price)
    return product


def _seed_speeds(seeder: _Seeder, spec: ProductSpec, pid: int, image: str) -> None:
    speed = seeder.get_or_create(
        ProductOptionGroup,
        {"product_id": pid, "key": "speed"},
        name="Delivery speed",
        selection=OptionSelection.SINGLE.value,
        required=True,
        sort_order=20,
    )
    for position, (key, label, description, delta, sla) in enumerate(
        [
            ("standard", "Standard", "A natural pace that looks organic.", 0, "Natural pace"),
            (
                "express",
                "Express",
                "Twice as fast, for launches and campaigns.",
                spec.express_minor,
                "About twice as fast",
            ),
            (
                "gradual",
                "Gradual drip-feed",
                "Spread evenly over the days you choose.",
                0,
                "Evenly over your chosen days",
            ),
        ]
    ):
        seeder.get_or_create(
            ProductOption,
            {"group_id": speed.id, "key": key},
            label=label,
            description=description,
            price_delta_minor=delta,
            sort_order=position * 10,
            blueprint={"tagline": description, "delivery_sla": sla, "hero_image": image},
        )


def _seed_product_rest(
    seeder: _Seeder, spec: ProductSpec, pid: int, image: str, services: dict[str, ProviderService], base_price: int
) -> None:
    if spec.extra.get("comment_styles"):
        style = seeder.get_or_create(
            ProductOptionGroup,
            {"product_id": pid, "key": "style"},
            name="Comment style",
            selection=OptionSelection.SINGLE.value,
            required=True,
            sort_order=30,
        )
        seeder.get_or_create(
            ProductOption,
            {"group_id": style.id, "key": "random"},
            label="Positive, on-topic",
            description="Short, friendly comments matched to your post.",
            price_delta_minor=0,
            sort_order=0,
            blueprint={"tagline": "We write them for you", "delivery_sla": "Starts within 1 hour", "hero_image": image},
        )
        seeder.get_or_create(
            ProductOption,
            {"group_id": style.id, "key": "custom"},
            label="Custom comments",
            description="Your own words, one comment per line.",
            price_delta_minor=200,
            sort_order=10,
            blueprint={
                "tagline": "Your words, posted by distinct accounts",
                "delivery_sla": "Starts within 2 hours",
                "hero_image": image,
            },
        )

    # --- add-ons ---------------------------------------------------------------
    for position, add_on in enumerate(spec.add_ons):
        seeder.get_or_create(
            ProductAddOn,
            {"product_id": pid, "key": add_on.key},
            label=add_on.label,
            description=add_on.description,
            pricing_mode=add_on.pricing_mode,
            amount_minor=add_on.amount_minor,
            percentage_bps=add_on.percentage_bps,
            provider_service_id=services[add_on.service_ref].id if add_on.service_ref else None,
            sort_order=position * 10,
        )

    # --- custom fields ---------------------------------------------------------
    target = spec.target
    seeder.get_or_create(
        ProductCustomField,
        {"product_id": pid, "key": target.key},
        label=target.label,
        field_type=target.field_type,
        required=True,
        placeholder=target.placeholder,
        help_text="The account or post must be public while we deliver.",
        regex_pattern=target.regex,
        regex_message=target.message,
        sort_order=10,
    )
    for extra_field in spec.fields:
        seeder.get_or_create(
            ProductCustomField,
            {"product_id": pid, "key": extra_field.key},
            label=extra_field.label,
            field_type=extra_field.field_type,
            required=True,
            placeholder=extra_field.placeholder,
            help_text=extra_field.help_text,
            default_value=extra_field.default,
            regex_pattern=extra_field.regex,
            regex_message=extra_field.message,
            min_value=Decimal(extra_field.min_value) if extra_field.min_value is not None else None,
            max_value=Decimal(extra_field.max_value) if extra_field.max_value is not None else None,
            visibility_rules=(
                {"match": "all", "conditions": [{"option": extra_field.visible_when}]}
                if extra_field.visible_when
                else {}
            ),
            sort_order=extra_field.sort_order,
        )
    if spec.speeds:
        seeder.get_or_create(
            ProductCustomField,
            {"product_id": pid, "key": "drip_days"},
            label="Spread delivery over (days)",
            field_type=CustomFieldType.INTEGER.value,
            required=False,
            placeholder="3",
            help_text="Only for gradual delivery: how many days the package is spread over.",
            default_value="3",
            min_value=Decimal("1"),
            max_value=Decimal("30"),
            visibility_rules={"match": "all", "conditions": [{"option": "speed:gradual"}]},
            sort_order=20,
        )
    if spec.extra.get("comment_styles"):
        seeder.get_or_create(
            ProductCustomField,
            {"product_id": pid, "key": "custom_comments"},
            label="Your comments",
            field_type=CustomFieldType.TEXTAREA.value,
            required=True,
            placeholder="Love this!\nWhere was this taken?",
            help_text="One comment per line, at most 300 characters each.",
            visibility_rules={"match": "all", "conditions": [{"option": "style:custom"}]},
            sort_order=30,
        )

    # --- plans -----------------------------------------------------------------
    if spec.subscription_minor is not None:
        seeder.get_or_create(
            ProductPlan,
            {"product_id": pid, "key": "one-time"},
            name="Single month",
            billing=PlanBilling.ONE_TIME.value,
            price_minor=spec.subscription_minor + 500,
            currency=CURRENCY,
            sort_order=20,
        )
        seeder.get_or_create(
            ProductPlan,
            {"product_id": pid, "key": "monthly"},
            name="Monthly subscription",
            billing=PlanBilling.SUBSCRIPTION.value,
            interval=PlanInterval.MONTH.value,
            interval_count=1,
            price_minor=spec.subscription_minor,
            currency=CURRENCY,
            sort_order=10,
        )
        default_plan = "monthly"
    else:
        seeder.get_or_create(
            ProductPlan,
            {"product_id": pid, "key": "one-time"},
            name="One-time purchase",
            billing=PlanBilling.ONE_TIME.value,
            price_minor=base_price,
            currency=CURRENCY,
            sort_order=10,
        )
        default_plan = "one-time"

    # --- presets: the popular pick and the biggest package ----------------------
    period = " / month" if spec.subscription_minor is not None else ""
    preset_options = {"speed": "standard"} if spec.speeds else {}
    preset_options.update({g.key: g.options[0][0] for g in spec.groups})
    if spec.extra.get("comment_styles"):
        preset_options["style"] = "random"  # a required group: a preset without it cannot be priced
    presets = [("popular", spec.packages[min(1, len(spec.packages) - 1)], True, 0)]
    if len(spec.packages) > 2:
        presets.append(("best-value", spec.packages[-1], False, 10))
    for key, (units, price), featured, position in presets:
        seeder.get_or_create(
            ProductPreset,
            {"product_id": pid, "key": key},
            label=f"{units:,} {spec.unit_label.replace(' / month', '')} / {format_euro(price)}{period}",
            description="Most chosen" if featured else "Best price per unit",
            selection={
                "options": {"package": str(units), **preset_options},
                "add_ons": [],
                "plan": default_plan,
                "fields": {},
            },
            price_hint_minor=price,
            is_featured=featured,
            sort_order=position,
        )

    # --- media -----------------------------------------------------------------
    seeder.get_or_create(
        ProductMedia,
        {"product_id": pid, "url": image},
        alt_text=f"{spec.title} illustration",
        label="Card",
        usage_tags=["card", "hero"],
        is_primary=True,
        checksum=_media_checksum(spec.slug),
    )

    # --- routing ---------------------------------------------------------------
    if spec.extra.get("comment_styles"):
        # custom comments need the panel's "Custom Comments" service; everything else the default
        seeder.get_or_create(
            ServiceRoute,
            {"product_id": pid, "provider_service_id": services["105"].id, "step": RouteStep.INITIAL.value},
            priority=10,
            conditions={"options": ["style:custom"]},
        )
        seeder.get_or_create(
            ServiceRoute,
            {"product_id": pid, "provider_service_id": services[spec.service_ref].id, "step": RouteStep.INITIAL.value},
            priority=20,
            conditions={},
        )
    else:
        for service_ref, priority, conditions in spec.routes or [(spec.service_ref, 10, {})]:
            seeder.get_or_create(
                ServiceRoute,
                {"product_id": pid, "provider_service_id": services[service_ref].id, "step": RouteStep.INITIAL.value},
                priority=priority,
                conditions=conditions,
            )


def _seed_bundles(seeder: _Seeder, products: dict[str, Product]) -> None:
    for position, (slug, primary, title, description, discount_bps, items) in enumerate(BUNDLES):
        bundle = seeder.get_or_create(
            ProductBundle,
            {"slug": slug},
            primary_product_id=products[primary].id,
            title=title,
            description=description,
            discount_bps=discount_bps,
            sort_order=position * 10,
        )
        for item_position, (product_slug, preset_key) in enumerate(items):
            seeder.get_or_create(
                ProductBundleItem,
                {"bundle_id": bundle.id, "product_id": products[product_slug].id},
                preset_key=preset_key,
                sort_order=item_position * 10,
            )
