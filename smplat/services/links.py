"""Delivery links and account handles, checked and put in one canonical form per platform.

A customer types a profile, post or video link, or an account handle; providers work on what
we pass them, so a link must be `https`, on the platform's own hosts, and have a path shape the
platform uses (a post, a video, a profile). Whatever the customer typed (`http://`,
`m.`/`www.` hosts, trailing slashes, tracking query strings, a profile URL where a handle is
asked) comes out in one form:

    normalise_link("instagram", "http://instagram.com/p/Cx1AbC2dEf?igsh=x")
        -> Link("https://www.instagram.com/p/Cx1AbC2dEf/", kind="post", handle="")
    normalise_handle("tiktok", "https://www.tiktok.com/@brand?lang=en") -> "brand"

`pricing` runs every URL and handle field through `normalise_field`, so the cart, the checkout
snapshot and the provider all see the canonical value. A link of another platform, another
site, or a shape the platform does not have is refused with `LinkInvalid` (code INVALID).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from smplat.services.errors import ErrorCode, ServiceError

MAX_LINK_LENGTH = 500


class LinkInvalid(ServiceError):
    """A link or handle the customer typed is not one we can deliver to."""

    default_code = ErrorCode.INVALID


class LinkKind:
    PROFILE = "profile"
    POST = "post"
    VIDEO = "video"


@dataclass(frozen=True)
class Link:
    url: str  # canonical: https, the platform's main host, no tracking query, no fragment
    kind: str  # LinkKind: profile, post or video
    handle: str = ""  # the account name when the link names one (profile links always do)


Shape = Callable[[list[str], dict[str, list[str]]], Link | None]


@dataclass(frozen=True)
class PlatformRules:
    name: str  # shown in messages: "Instagram"
    hosts: frozenset[str]  # every host the platform's links use (lower-case, no port)
    handle_re: re.Pattern[str]
    handle_hint: str  # what a handle looks like, for the message
    shapes: tuple[Shape, ...]  # tried in order; the first that recognises the path wins
    profile_url: str  # "{}" is the handle


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


# --- platforms ---------------------------------------------------------------------------

_IG_HANDLE = re.compile(r"^(?!.*\.\.)(?!\.)[A-Za-z0-9._]{1,30}(?<!\.)$")
_IG_RESERVED = frozenset({"p", "reel", "reels", "tv", "explore", "accounts", "stories", "direct", "about", "legal"})
_IG_CODE = re.compile(r"^[A-Za-z0-9_-]{5,40}$")


def _instagram(parts: list[str], _query: dict[str, list[str]]) -> Link | None:
    base = "https://www.instagram.com/"
    # /p/<code>, /reel/<code>, /reels/<code>, /tv/<code>, and /<handle>/p/<code> (newer share links)
    if len(parts) == 3 and parts[1] in ("p", "reel", "reels", "tv") and _IG_HANDLE.match(parts[0]):
        parts = parts[1:]
    if len(parts) == 2 and parts[0] in ("p", "reel", "reels", "tv") and _IG_CODE.match(parts[1]):
        kind = "reel" if parts[0] == "reels" else parts[0]
        return Link(f"{base}{kind}/{parts[1]}/", LinkKind.POST if kind == "p" else LinkKind.VIDEO)
    if len(parts) == 1 and parts[0].lower() not in _IG_RESERVED and _IG_HANDLE.match(parts[0]):
        return Link(f"{base}{parts[0]}/", LinkKind.PROFILE, parts[0])
    return None


_TT_HANDLE = re.compile(r"^[A-Za-z0-9._]{2,24}$")


def _tiktok(parts: list[str], _query: dict[str, list[str]]) -> Link | None:
    base = "https://www.tiktok.com/"
    if not parts or not parts[0].startswith("@") or not _TT_HANDLE.match(parts[0][1:]):
        return None
    handle = parts[0][1:]
    if len(parts) == 1:
        return Link(f"{base}@{handle}", LinkKind.PROFILE, handle)
    if len(parts) == 3 and parts[1] in ("video", "photo") and parts[2].isdigit() and len(parts[2]) <= 25:
        return Link(f"{base}@{handle}/{parts[1]}/{parts[2]}", LinkKind.VIDEO, handle)
    return None


_TT_SHORT = re.compile(r"^[A-Za-z0-9]{5,20}$")


def _tiktok_vm(parts: list[str], _query: dict[str, list[str]]) -> Link | None:
    # vm.tiktok.com/<code>/ redirects to a video; we cannot follow it here, so it is kept as is
    if len(parts) == 1 and _TT_SHORT.match(parts[0]):
        return Link(f"https://vm.tiktok.com/{parts[0]}/", LinkKind.VIDEO)
    return None


def _tiktok_t(parts: list[str], _query: dict[str, list[str]]) -> Link | None:
    if len(parts) == 2 and parts[0] == "t" and _TT_SHORT.match(parts[1]):
        return Link(f"https://www.tiktok.com/t/{parts[1]}/", LinkKind.VIDEO)
    return None


_YT_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_YT_HANDLE = re.compile(r"^[A-Za-z0-9._-]{3,30}$")
_YT_CHANNEL_ID = re.compile(r"^UC[A-Za-z0-9_-]{22}$")
_YT_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def _youtube(parts: list[str], query: dict[str, list[str]]) -> Link | None:
    base = "https://www.youtube.com/"
    if parts == ["watch"]:
        video = (query.get("v") or [""])[0]
        return Link(f"{base}watch?v={video}", LinkKind.VIDEO) if _YT_VIDEO_ID.match(video) else None
    if len(parts) == 2 and parts[0] in ("shorts", "live", "embed", "v") and _YT_VIDEO_ID.match(parts[1]):
        path = f"shorts/{parts[1]}" if parts[0] == "shorts" else f"watch?v={parts[1]}"
        return Link(base + path, LinkKind.VIDEO)
    if parts and parts[0].startswith("@") and _YT_HANDLE.match(parts[0][1:]) and len(parts) <= 2:
        if len(parts) == 1 or parts[1] in ("videos", "shorts", "featured", "streams", "about"):
            return Link(f"{base}{parts[0]}", LinkKind.PROFILE, parts[0][1:])
        return None
    if len(parts) == 2 and parts[0] == "channel" and _YT_CHANNEL_ID.match(parts[1]):
        return Link(f"{base}channel/{parts[1]}", LinkKind.PROFILE)
    if len(parts) == 2 and parts[0] in ("c", "user") and _YT_NAME.match(parts[1]):
        return Link(f"{base}{parts[0]}/{parts[1]}", LinkKind.PROFILE)
    return None


def _youtube_short(parts: list[str], _query: dict[str, list[str]]) -> Link | None:
    if len(parts) == 1 and _YT_VIDEO_ID.match(parts[0]):
        return Link(f"https://www.youtube.com/watch?v={parts[0]}", LinkKind.VIDEO)
    return None


_X_HANDLE = re.compile(r"^[A-Za-z0-9_]{1,15}$")
_X_RESERVED = frozenset({"home", "i", "search", "explore", "settings", "intent", "share", "notifications", "messages"})


def _x(parts: list[str], _query: dict[str, list[str]]) -> Link | None:
    if not parts or parts[0].lower() in _X_RESERVED or not _X_HANDLE.match(parts[0]):
        return None
    if len(parts) == 1:
        return Link(f"https://x.com/{parts[0]}", LinkKind.PROFILE, parts[0])
    if len(parts) >= 3 and parts[1] == "status" and parts[2].isdigit() and len(parts[2]) <= 25:
        return Link(f"https://x.com/{parts[0]}/status/{parts[2]}", LinkKind.POST, parts[0])
    return None


_FB_NAME = re.compile(r"^[A-Za-z0-9.]{5,50}$")
_FB_RESERVED = frozenset(
    {"watch", "reel", "groups", "photo", "photo.php", "profile.php", "story.php", "share", "events"}
)


def _facebook(parts: list[str], query: dict[str, list[str]]) -> Link | None:
    base = "https://www.facebook.com/"
    number = re.compile(r"^[0-9]{1,25}$")
    if parts == ["profile.php"]:
        ident = (query.get("id") or [""])[0]
        return Link(f"{base}profile.php?id={ident}", LinkKind.PROFILE) if number.match(ident) else None
    if parts == ["watch"]:
        video = (query.get("v") or [""])[0]
        return Link(f"{base}watch?v={video}", LinkKind.VIDEO) if number.match(video) else None
    if len(parts) == 2 and parts[0] == "reel" and number.match(parts[1]):
        return Link(f"{base}reel/{parts[1]}", LinkKind.VIDEO)
    if not parts or parts[0].lower() in _FB_RESERVED or not _FB_NAME.match(parts[0]):
        return None
    if len(parts) == 1:
        return Link(f"{base}{parts[0]}", LinkKind.PROFILE, parts[0])
    if len(parts) == 3 and parts[1] in ("posts", "videos") and re.match(r"^[A-Za-z0-9]{1,80}$", parts[2]):
        kind = LinkKind.POST if parts[1] == "posts" else LinkKind.VIDEO
        return Link(f"{base}{parts[0]}/{parts[1]}/{parts[2]}", kind, parts[0])
    return None


_TG_HANDLE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")


def _telegram(parts: list[str], _query: dict[str, list[str]]) -> Link | None:
    if parts and parts[0] == "s":  # t.me/s/<channel>: the web preview of a channel
        parts = parts[1:]
    if not parts or not _TG_HANDLE.match(parts[0]):
        return None
    if len(parts) == 1:
        return Link(f"https://t.me/{parts[0]}", LinkKind.PROFILE, parts[0])
    if len(parts) == 2 and parts[1].isdigit() and len(parts[1]) <= 12:
        return Link(f"https://t.me/{parts[0]}/{parts[1]}", LinkKind.POST, parts[0])
    return None


_SPOTIFY_ID = re.compile(r"^[A-Za-z0-9]{22}$")


def _spotify(parts: list[str], _query: dict[str, list[str]]) -> Link | None:
    if parts and re.match(r"^intl-[a-z]{2}(-[A-Za-z]{2})?$", parts[0]):  # /intl-de/track/...
        parts = parts[1:]
    if len(parts) != 2:
        return None
    kind, ident = parts
    if kind in ("artist", "show") and _SPOTIFY_ID.match(ident):
        return Link(f"https://open.spotify.com/{kind}/{ident}", LinkKind.PROFILE)
    if kind in ("track", "album", "playlist", "episode") and _SPOTIFY_ID.match(ident):
        return Link(f"https://open.spotify.com/{kind}/{ident}", LinkKind.POST)
    if kind == "user" and re.match(r"^[A-Za-z0-9._-]{1,64}$", ident):
        return Link(f"https://open.spotify.com/user/{ident}", LinkKind.PROFILE, ident)
    return None


def _hosts(*domains: str, prefixes: Iterable[str] = ("", "www.", "m.")) -> frozenset[str]:
    return frozenset(p + d for d in domains for p in prefixes)


PLATFORMS: dict[str, PlatformRules] = {
    "instagram": PlatformRules(
        "Instagram",
        _hosts("instagram.com"),
        _IG_HANDLE,
        "1–30 letters, numbers, dots or underscores",
        (_instagram,),
        "https://www.instagram.com/{}/",
    ),
    "tiktok": PlatformRules(
        "TikTok",
        _hosts("tiktok.com") | {"vm.tiktok.com", "vt.tiktok.com"},
        _TT_HANDLE,
        "2–24 letters, numbers, dots or underscores",
        (_tiktok, _tiktok_t),
        "https://www.tiktok.com/@{}",
    ),
    "youtube": PlatformRules(
        "YouTube",
        _hosts("youtube.com", prefixes=("", "www.", "m.", "music.")) | {"youtu.be"},
        _YT_HANDLE,
        "3–30 letters, numbers, dots, dashes or underscores",
        (_youtube, _youtube_short),
        "https://www.youtube.com/@{}",
    ),
    "x": PlatformRules(
        "X (Twitter)",
        _hosts("x.com", "twitter.com", prefixes=("", "www.", "m.", "mobile.")),
        _X_HANDLE,
        "1–15 letters, numbers or underscores",
        (_x,),
        "https://x.com/{}",
    ),
    "facebook": PlatformRules(
        "Facebook",
        _hosts("facebook.com", prefixes=("", "www.", "m.", "web.", "mbasic.")) | {"fb.com", "www.fb.com"},
        _FB_NAME,
        "5–50 letters, numbers or dots",
        (_facebook,),
        "https://www.facebook.com/{}",
    ),
    "telegram": PlatformRules(
        "Telegram",
        frozenset({"t.me", "www.t.me", "telegram.me", "www.telegram.me"}),
        _TG_HANDLE,
        "5–32 letters, numbers or underscores, starting with a letter",
        (_telegram,),
        "https://t.me/{}",
    ),
    "spotify": PlatformRules(
        "Spotify",
        frozenset({"open.spotify.com"}),
        re.compile(r"^[A-Za-z0-9._-]{1,64}$"),
        "up to 64 letters, numbers, dots, dashes or underscores",
        (_spotify,),
        "https://open.spotify.com/user/{}",
    ),
}
# The hosts whose links go to one shape function only (short links).
_SHORT_HOSTS = {"vm.tiktok.com": _tiktok_vm, "vt.tiktok.com": _tiktok_vm, "youtu.be": _youtube_short}


# --- parsing -------------------------------------------------------------------------------

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _split(value: str) -> tuple[str, str, str]:
    """(host, path, query string) of a typed link; a missing scheme means https. Raises LinkInvalid."""
    text = (value or "").strip()
    if not text:
        raise LinkInvalid("Paste a link.", code=ErrorCode.REQUIRED)
    if len(text) > MAX_LINK_LENGTH or any(c.isspace() for c in text):
        raise LinkInvalid("That does not look like a link.")
    if text.startswith("//"):
        text = "https:" + text
    elif not _SCHEME_RE.match(text) or re.match(r"^[A-Za-z0-9.-]+:[0-9]", text):
        text = "https://" + text  # "instagram.com/brand", "www.youtube.com/@chan"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise LinkInvalid("That does not look like a link.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise LinkInvalid("Use a link starting with https://.")
    if parts.username is not None or parts.password is not None or port not in (None, 80, 443):
        raise LinkInvalid("That does not look like a link to a public page.")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host or "." not in host:
        raise LinkInvalid("That does not look like a link.")
    return host, parts.path, parts.query


def platform_rules(platform: str) -> PlatformRules | None:
    return PLATFORMS.get((platform or "").lower())


def normalise_link(platform: str, value: str, *, kinds: Iterable[str] | None = None) -> Link:
    """The canonical form of a link on `platform` (a `Platform` value), or LinkInvalid.

    `kinds` limits what it may point at (a post field refuses a profile link). A platform we
    have no rules for ("other") takes any https link on a public host, without its fragment."""
    host, path, query_string = _split(value)
    rules = platform_rules(platform)
    if rules is None:
        if host == "localhost" or re.match(r"^[0-9.]+$", host) or host.endswith((".local", ".internal")):
            raise LinkInvalid("Use a link to a public page.")
        return Link(f"https://{host}{path or '/'}" + (f"?{query_string}" if query_string else ""), LinkKind.PROFILE)
    query = parse_qs(query_string)
    if host not in rules.hosts:
        raise LinkInvalid(f"Use a link to {rules.name} ({sorted(rules.hosts, key=len)[0]}).")
    shapes = (_SHORT_HOSTS[host],) if host in _SHORT_HOSTS else rules.shapes
    segments = _segments(path)
    link = next((found for shape in shapes if (found := shape(segments, query)) is not None), None)
    if link is None:
        raise LinkInvalid(f"That {rules.name} link does not point at a profile, post or video.")
    allowed = set(kinds or ())
    if allowed and link.kind not in allowed:
        raise LinkInvalid(_kind_message(rules.name, allowed))
    return link


def _kind_message(name: str, allowed: set[str]) -> str:
    if allowed == {LinkKind.PROFILE}:
        return f"Paste the link of the {name} profile or channel itself."
    if LinkKind.PROFILE not in allowed:
        return f"Paste the link of one {name} post or video, not of a profile."
    return f"That {name} link points at the wrong kind of page."


def normalise_handle(platform: str, value: str) -> str:
    """An account name without '@': typed as `@brand`, `brand`, or a profile link of the platform."""
    text = (value or "").strip()
    rules = platform_rules(platform)
    if not text:
        raise LinkInvalid("Enter a username.", code=ErrorCode.REQUIRED)
    looks_like_link = "/" in text or text.lower().startswith(("http:", "https:"))
    if looks_like_link:
        if rules is None:
            raise LinkInvalid("Enter the username, not a link.")
        link = normalise_link(platform, text)
        if link.kind != LinkKind.PROFILE or not link.handle:
            raise LinkInvalid(f"Enter the {rules.name} username, or paste the profile link itself.")
        return link.handle
    handle = text[1:] if text.startswith("@") else text
    if rules is not None and not rules.handle_re.match(handle):
        raise LinkInvalid(f"A {rules.name} username has {rules.handle_hint}.")
    if rules is None and not re.match(r"^[A-Za-z0-9._-]{1,64}$", handle):
        raise LinkInvalid("A username has up to 64 letters, numbers, dots, dashes or underscores.")
    return handle


def profile_url(platform: str, handle: str) -> str:
    """The profile link of a handle (a provider needs a link): `https://www.tiktok.com/@brand`."""
    rules = platform_rules(platform)
    handle = normalise_handle(platform, handle)
    return rules.profile_url.format(handle) if rules else f"https://{handle}"


# What a URL field may point at, by the field's key (the catalog's convention: `post_link`,
# `video_link`, `channel_link`, `profile_link`); any other key takes any shape.
_KINDS_BY_FIELD_KEY = {
    "post_link": (LinkKind.POST, LinkKind.VIDEO),
    "video_link": (LinkKind.VIDEO,),
    "channel_link": (LinkKind.PROFILE,),
    "profile_link": (LinkKind.PROFILE,),
}


def normalise_field(field_type: str, platform: str, key: str, value: str) -> str:
    """A custom field's typed value in canonical form (URL and handle fields; others as typed)."""
    if field_type == "url":
        return normalise_link(platform, value, kinds=_KINDS_BY_FIELD_KEY.get(key)).url
    if field_type == "handle":
        return "@" + normalise_handle(platform, value)  # kept as the customer sees it: @brand
    return value
