"""The shop's own content system: home page blocks and legal pages, edited in Admin → Content.

Each block has a fixed shape (`BlockSpec`): a title, optionally a subtitle and a body, and
optionally a list of items the admin writes one per line with parts separated by `|`
("question | answer"). A block without a row shows its built-in default, so a fresh shop
is complete; saving writes the row, "reset" deletes it. Defaults only state what the
software itself guarantees: no invented figures, customers or quotes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from smplat.models.catalog import Product, ProductStatus
from smplat.models.content import ContentBlock
from smplat.services import audit
from smplat.settings import get_settings

ITEM_SEPARATOR = "|"
TITLE_MAX = 120
SUBTITLE_MAX = 300
BODY_MAX = 20_000


class UnknownBlock(LookupError):
    """No content block has that key."""


class ContentInvalid(ValueError):
    """What the admin typed breaks a rule; `errors` maps a form field to a sentence."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class ItemColumn:
    name: str
    label: str
    max_length: int


@dataclass(frozen=True)
class BlockDefault:
    title: str
    subtitle: str = ""
    body: str = ""
    items: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class BlockSpec:
    key: str
    label: str
    group: str  # "Home page" or "Legal pages"
    help: str  # shown to the admin above the form
    public_path: str  # where visitors see it
    default: BlockDefault
    subtitle_label: str = ""  # "" = the block has no subtitle
    body_label: str = ""  # "" = the block has no body
    body_required: bool = False
    body_markdown: bool = False
    columns: tuple[ItemColumn, ...] = ()  # () = the block has no items
    min_items: int = 0
    max_items: int = 0
    items_label: str = ""
    items_refer_to_products: bool = False  # each item is the address (slug) of a live service
    needs_owner_details: bool = False  # the default cannot know the operator's own facts

    @property
    def item_format(self) -> str:
        return f" {ITEM_SEPARATOR} ".join(c.label.lower() for c in self.columns)


@dataclass
class BlockView:
    """A block as pages show it: the saved row, or the default when there is none."""

    key: str
    title: str
    subtitle: str
    body: str
    items: list[dict[str, str]] = field(default_factory=list)
    is_default: bool = True
    updated_at: datetime | None = None


HOME = "/"

_PRIVACY = """\
This notice explains what {brand} stores about you, why, and for how long.

## What we store
- **Your account**: email address, name and your password, stored only as an Argon2 hash.
  Sign-in attempts are recorded to stop password guessing and deleted after 7 days.
- **Your orders**: what you bought, the handle or link you gave us for delivery, prices and
  payment status. Payments are processed by Stripe; we never see or store card numbers.
- **Delivery**: the public handle or link of each order is passed to the delivery provider
  that fulfils it, and nothing else about you.

## Cookies
- `smplat_session` (essential): keeps you signed in. It cannot be read by scripts.
- `smplat_consent` (essential): remembers your cookie choice for 180 days.

## Analytics, only with your consent
If you choose **Accept all**, we record catalog searches (the words searched, filters, sort
order and number of results) to learn which services people look for. These records carry
no account, address or device identifier. With **Essential only** nothing is recorded.
You can change your choice at any time with **Cookie settings** at the bottom of every page.

## Your rights
You can ask for a copy of your data, its correction or its deletion at any time. The
contact details are on the imprint page.
"""

_TERMS = """\
These terms apply to every order placed in the {brand} shop.

## Orders and prices
Each service shows its price before you pay. Prices include VAT where applicable. The
order is confirmed when the payment succeeds and you receive a receipt by email.

## Delivery
Delivery starts after payment, usually within an hour; each package states its expected
duration. The account, post or video you name must stay public while we deliver.
Progress is shown in your account.

## Refills and refunds
Where you added the 30-day refill guarantee, drops within 30 days of completion are
topped up free of charge. If an order cannot be delivered, the undelivered part is
refunded to the original payment method.

## Fair use
Do not order for accounts or content you have no right to promote. We may refuse or stop
orders that break a platform's rules or the law, and refund what was not delivered.
"""

_IMPRINT = """\
{brand} is an online shop for social-media growth services.

The operator's legal name, postal address, contact email, commercial register entry and
VAT number are published on this page by the shop owner.
"""

BLOCKS: tuple[BlockSpec, ...] = (
    BlockSpec(
        "home.hero",
        "Hero",
        "Home page",
        "The first thing visitors read: a short promise, one sentence of detail, and a line above it.",
        HOME,
        BlockDefault(
            "Grow your audience. Watch every order deliver.",
            "Instagram · TikTok · YouTube",
            "Followers, likes, views and monthly growth plans from vetted providers, priced up front, "
            "paid securely and tracked live from your dashboard.",
        ),
        subtitle_label="Line above the headline",
        body_label="Sentence under the headline",
        body_required=True,
    ),
    BlockSpec(
        "home.services",
        "Services overview",
        "Home page",
        "Introduces the popular services and the platforms; the services themselves come from the catalog.",
        HOME,
        BlockDefault("Popular services", "Our customers' favourite packages right now."),
        subtitle_label="Sentence under the title",
    ),
    BlockSpec(
        "home.metrics",
        "Key figures",
        "Home page",
        "Figures you publish about your shop. The defaults describe what the shop offers; replace them "
        "with your own numbers (orders delivered, customers) only when you can back them up.",
        HOME,
        BlockDefault(
            "What you can count on",
            items=(
                ("3", "platforms: Instagram, TikTok and YouTube"),
                ("1 h", "typical time until delivery starts"),
                ("30 days", "refill guarantee available on every service"),
                ("0", "passwords needed: we only ask for a public handle or link"),
            ),
        ),
        columns=(ItemColumn("value", "Figure", 20), ItemColumn("label", "Label", 120)),
        min_items=1,
        max_items=6,
        items_label="Figures",
    ),
    BlockSpec(
        "home.testimonials",
        "Testimonials",
        "Home page",
        "Quotes from real customers, published with their permission. The section stays hidden while there are none.",
        HOME,
        BlockDefault("What customers say"),
        columns=(
            ItemColumn("quote", "Quote", 400),
            ItemColumn("name", "Name", 80),
            ItemColumn("role", "Role or company", 80),
        ),
        min_items=0,
        max_items=9,
        items_label="Testimonials",
    ),
    BlockSpec(
        "home.faq",
        "FAQ",
        "Home page",
        "Questions visitors ask before they buy.",
        HOME,
        BlockDefault(
            "Frequently asked questions",
            items=(
                (
                    "Do you need my password?",
                    "No. We only ask for the public username or the link of the post you want to grow. "
                    "Your account stays yours.",
                ),
                (
                    "How fast does delivery start?",
                    "Most orders start within an hour of payment. Each package shows its delivery time before "
                    "you pay, and you can follow progress live in your account.",
                ),
                (
                    "What if followers drop after delivery?",
                    "Add the 30-day refill guarantee to your order and any drop in the first 30 days is topped "
                    "up free of charge.",
                ),
                (
                    "Does my account need to be public?",
                    "Yes, while we deliver. Private accounts and posts cannot receive followers, likes or views.",
                ),
                (
                    "How do I pay?",
                    "Checkout runs on Stripe. You get a receipt by email as soon as the payment succeeds.",
                ),
            ),
        ),
        columns=(ItemColumn("question", "Question", 160), ItemColumn("answer", "Answer", 600)),
        min_items=0,
        max_items=20,
        items_label="Questions",
    ),
    BlockSpec(
        "home.pricing",
        "Pricing teaser",
        "Home page",
        "Up to three services whose starting price is shown on the home page. Write one service "
        "address per line (the part after /services/ in its link); prices always come from the catalog.",
        HOME,
        BlockDefault(
            "Simple, up-front pricing",
            "",
            "Every package has one price, shown before you pay. No subscription unless you choose one.",
            items=(("instagram-followers",), ("tiktok-views",), ("youtube-views",)),
        ),
        body_label="Sentence under the title",
        columns=(ItemColumn("slug", "Service address", 120),),
        min_items=1,
        max_items=3,
        items_label="Services",
        items_refer_to_products=True,
    ),
    BlockSpec(
        "home.case_study",
        "Case study",
        "Home page",
        "One story of how the services are used. The default is an example plan and says so; "
        "replace it with a customer's story only with their permission.",
        HOME,
        BlockDefault(
            "A launch week on Instagram",
            "Example plan built from the catalog, not a customer's results",
            "A new shop account preparing its launch post can combine three services in one go, "
            "each starting as soon as it is paid.",
            items=(
                ("Before launch", "Instagram Followers, so the profile looks established on day one."),
                ("Launch day", "Instagram Likes on the launch post, so it shows activity from the first hour."),
                ("Launch week", "Instagram Story Views, so the new audience keeps seeing the stories."),
            ),
        ),
        subtitle_label="Line under the title",
        body_label="Story",
        body_required=True,
        columns=(ItemColumn("label", "Step", 40), ItemColumn("text", "What happens", 200)),
        min_items=0,
        max_items=5,
        items_label="Steps",
    ),
    BlockSpec(
        "legal.terms",
        "Terms of service",
        "Legal pages",
        "The terms every order is placed under (Markdown).",
        "/terms",
        BlockDefault("Terms of service", body=_TERMS),
        body_label="Text (Markdown)",
        body_required=True,
        body_markdown=True,
    ),
    BlockSpec(
        "legal.privacy",
        "Privacy policy",
        "Legal pages",
        "What the shop stores and why (Markdown). The default describes exactly what this software stores.",
        "/privacy",
        BlockDefault("Privacy policy", body=_PRIVACY),
        body_label="Text (Markdown)",
        body_required=True,
        body_markdown=True,
    ),
    BlockSpec(
        "legal.imprint",
        "Imprint",
        "Legal pages",
        "Who operates the shop (Markdown): legal name, postal address, contact email, register entry and "
        "VAT number. Many countries require it; fill it in before going live.",
        "/imprint",
        BlockDefault("Imprint", body=_IMPRINT),
        body_label="Text (Markdown)",
        body_required=True,
        body_markdown=True,
        needs_owner_details=True,
    ),
)

SPECS: dict[str, BlockSpec] = {spec.key: spec for spec in BLOCKS}
HOME_KEYS = [spec.key for spec in BLOCKS if spec.group == "Home page"]
LEGAL_KEYS = {"terms": "legal.terms", "privacy": "legal.privacy", "imprint": "legal.imprint"}


def get_spec(key: str) -> BlockSpec:
    try:
        return SPECS[key]
    except KeyError:
        raise UnknownBlock(f"There is no content block called {key!r}.") from None


# --- pure rules -----------------------------------------------------------------------------


def _brand(text: str) -> str:
    return text.replace("{brand}", get_settings().brand_name)


def default_view(spec: BlockSpec) -> BlockView:
    d = spec.default
    return BlockView(
        key=spec.key,
        title=d.title,
        subtitle=d.subtitle,
        body=_brand(d.body),
        items=[dict(zip([c.name for c in spec.columns], parts, strict=True)) for parts in d.items],
    )


def items_to_text(spec: BlockSpec, items: list[dict[str, Any]]) -> str:
    """The items as the admin edits them: one per line, parts separated by ` | `."""
    return "\n".join(f" {ITEM_SEPARATOR} ".join(str(item.get(c.name, "")) for c in spec.columns) for item in items)


def parse_items(spec: BlockSpec, text: str) -> list[dict[str, str]]:
    """Parse the admin's lines into items; raises ContentInvalid({"items": …}) naming the line."""
    lines = [line.strip() for line in (text or "").splitlines()]
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line]
    if not spec.columns:
        if numbered:
            raise ContentInvalid({"items": "This block has no list items."})
        return []
    items: list[dict[str, str]] = []
    for number, line in numbered:
        parts = [part.strip() for part in line.split(ITEM_SEPARATOR)]
        if len(parts) != len(spec.columns):
            found = "1 part" if len(parts) == 1 else f"{len(parts)} parts"
            raise ContentInvalid({"items": f"Line {number}: write it as “{spec.item_format}” (found {found})."})
        for column, part in zip(spec.columns, parts, strict=True):
            if not part:
                raise ContentInvalid({"items": f"Line {number}: the {column.label.lower()} is empty."})
            if len(part) > column.max_length:
                raise ContentInvalid(
                    {
                        "items": f"Line {number}: the {column.label.lower()} is longer than "
                        f"{column.max_length} characters."
                    }
                )
        items.append(dict(zip([c.name for c in spec.columns], parts, strict=True)))
    if len(items) < spec.min_items:
        raise ContentInvalid({"items": f"Add at least {spec.min_items} line{'s' if spec.min_items > 1 else ''}."})
    if len(items) > spec.max_items:
        raise ContentInvalid({"items": f"At most {spec.max_items} lines, found {len(items)}."})
    return items


@dataclass(frozen=True)
class BlockInput:
    title: str
    subtitle: str
    body: str
    items: list[dict[str, str]]


def validate(spec: BlockSpec, *, title: str, subtitle: str = "", body: str = "", items_text: str = "") -> BlockInput:
    """Check what the admin typed; every broken rule is reported at once, per field."""
    title, subtitle, body = (title or "").strip(), (subtitle or "").strip(), (body or "").strip()
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = "Give the block a title."
    elif len(title) > TITLE_MAX:
        errors["title"] = f"Keep the title under {TITLE_MAX} characters (it has {len(title)})."
    if subtitle and not spec.subtitle_label:
        errors["subtitle"] = "This block has no subtitle."
    elif len(subtitle) > SUBTITLE_MAX:
        errors["subtitle"] = f"Keep this line under {SUBTITLE_MAX} characters (it has {len(subtitle)})."
    if body and not spec.body_label:
        errors["body"] = "This block has no text."
    elif spec.body_required and not body:
        errors["body"] = "This text is shown to visitors; it cannot be empty."
    elif len(body) > BODY_MAX:
        errors["body"] = f"Keep the text under {BODY_MAX:,} characters (it has {len(body):,})."
    items: list[dict[str, str]] = []
    try:
        items = parse_items(spec, items_text)
    except ContentInvalid as invalid:
        errors.update(invalid.errors)
    if errors:
        raise ContentInvalid(errors)
    return BlockInput(title, subtitle, body, items)


# --- database -----------------------------------------------------------------------------


def get_blocks(session: Session, keys: list[str]) -> dict[str, BlockView]:
    """The blocks as visitors see them, saved or default, in one query."""
    specs = [get_spec(key) for key in keys]
    rows = {
        row.key: row for row in session.execute(select(ContentBlock).where(ContentBlock.key.in_(keys))).scalars().all()
    }
    views: dict[str, BlockView] = {}
    for spec in specs:
        row = rows.get(spec.key)
        if row is None:
            views[spec.key] = default_view(spec)
        else:
            views[spec.key] = BlockView(
                key=row.key,
                title=row.title,
                subtitle=row.subtitle,
                body=row.body,
                items=[{c.name: str(item.get(c.name, "")) for c in spec.columns} for item in row.items],
                is_default=False,
                updated_at=row.updated_at,
            )
    return views


def get_block(session: Session, key: str) -> BlockView:
    return get_blocks(session, [key])[key]


def _check_products(session: Session, spec: BlockSpec, items: list[dict[str, str]], items_text: str) -> None:
    slugs = [item["slug"] for item in items]
    live = set(
        session.execute(
            select(Product.slug).where(Product.slug.in_(slugs), Product.status == ProductStatus.ACTIVE.value)
        )
        .scalars()
        .all()
    )
    lines = [line.strip() for line in items_text.splitlines()]
    for slug in slugs:
        if slug not in live:
            number = lines.index(slug) + 1 if slug in lines else 0
            where = f"Line {number}: " if number else ""
            raise ContentInvalid(
                {"items": f"{where}no live service has the address “{slug}” (see the links in Admin → Catalog)."}
            )
    if len(set(slugs)) != len(slugs):
        raise ContentInvalid({"items": "Each service can appear only once."})


def save_block(
    session: Session,
    key: str,
    *,
    title: str,
    subtitle: str = "",
    body: str = "",
    items_text: str = "",
    user_id: int | None = None,
    actor: audit.Actor | None = None,
) -> ContentBlock:
    """Validate and store a block (insert or update). Raises ContentInvalid and stores nothing
    when a rule is broken. The caller commits. A staff `actor` gets the change in the audit log
    (the fields that changed, before and after)."""
    spec = get_spec(key)
    data = validate(spec, title=title, subtitle=subtitle, body=body, items_text=items_text)
    if spec.items_refer_to_products:
        _check_products(session, spec, data.items, items_text)
    row = session.execute(select(ContentBlock).where(ContentBlock.key == key)).scalar_one_or_none()
    before = audit.snapshot(row, _AUDITED) if row is not None else {}
    if row is None:
        row = ContentBlock(key=key)
        session.add(row)
    row.title, row.subtitle, row.body, row.items = data.title, data.subtitle, data.body, data.items
    row.updated_by_id = user_id if actor is None else actor.user_id
    session.flush()
    if actor is not None:
        audit.record(
            session, actor, "content.save", "content_block", key, before=before, after=audit.snapshot(row, _AUDITED)
        )
    return row


_AUDITED = ("title", "subtitle", "body", "items")


def reset_block(session: Session, key: str, *, actor: audit.Actor | None = None) -> bool:
    """Delete the saved row so the default shows again; False when it was already the default."""
    get_spec(key)
    row = session.execute(select(ContentBlock).where(ContentBlock.key == key)).scalar_one_or_none()
    if row is None:
        return False
    before = audit.snapshot(row, _AUDITED)
    session.delete(row)
    session.flush()
    if actor is not None:
        audit.record(session, actor, "content.reset", "content_block", key, before=before, after={})
    return True


# --- rendering operator Markdown ------------------------------------------------------------

# What operator-written Markdown may become on a public page: text formatting, headings,
# lists, tables, quotes, code and links. No scripts, frames, forms, images, style or event
# attributes: the text is written by staff but shown to every visitor in the shop's origin.
_SAFE_TAGS = {
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "s",
    "del",
    "blockquote",
    "ul",
    "ol",
    "li",
    "code",
    "pre",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "sup",
    "sub",
    "small",
}
_SAFE_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
_SAFE_URL_SCHEMES = {"http", "https", "mailto", "tel"}
_LINK_REL = "noopener noreferrer nofollow"


def safe_markdown(text: str) -> str:
    """Operator Markdown as sanitised HTML (allowlist), the one way pages render it.

    Stored content is never trusted: this runs on output, so text saved before the
    sanitiser existed is cleaned too. Raw HTML in the Markdown is parsed and then reduced
    to the allowlist; `<script>`, `<style>` and `<iframe>` lose their content as well."""
    import nh3
    from markdown_it import MarkdownIt  # markdown-it-py, already installed with rich/reflex

    html = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(text or "")
    return nh3.clean(
        html,
        tags=_SAFE_TAGS,
        attributes=_SAFE_ATTRIBUTES,
        url_schemes=_SAFE_URL_SCHEMES,
        link_rel=_LINK_REL,
        clean_content_tags={
            "script",
            "style",
            "iframe",
            "noscript",
            "template",
            "textarea",
            "select",
            "title",
            "object",
            "embed",
            "svg",
            "math",
            "form",
        },
        strip_comments=True,
    )
