"""Delivery links and handles: one canonical form per platform, or a refusal that says why."""

from __future__ import annotations

import pytest

from smplat.services import links
from smplat.services.links import LinkInvalid

pytestmark = pytest.mark.unit

ACCEPTED = [
    # (platform, typed, canonical, kind)
    ("instagram", "https://www.instagram.com/p/Cx1AbC2dEf/", "https://www.instagram.com/p/Cx1AbC2dEf/", "post"),
    ("instagram", "http://instagram.com/p/Cx1AbC2dEf", "https://www.instagram.com/p/Cx1AbC2dEf/", "post"),
    (
        "instagram",
        "instagram.com/p/Cx1AbC2dEf/?igsh=MXQ2&utm_source=ig",
        "https://www.instagram.com/p/Cx1AbC2dEf/",
        "post",
    ),
    (
        "instagram",
        "https://m.instagram.com/reel/Cx1AbC2dEf/#comments",
        "https://www.instagram.com/reel/Cx1AbC2dEf/",
        "video",
    ),
    ("instagram", "https://www.instagram.com/reels/Cx1AbC2dEf", "https://www.instagram.com/reel/Cx1AbC2dEf/", "video"),
    (
        "instagram",
        "https://www.instagram.com/yourbrand/p/Cx1AbC2dEf/",
        "https://www.instagram.com/p/Cx1AbC2dEf/",
        "post",
    ),
    ("instagram", "  HTTPS://WWW.INSTAGRAM.COM/your.brand  ", "https://www.instagram.com/your.brand/", "profile"),
    (
        "tiktok",
        "https://www.tiktok.com/@you/video/7301234567890?is_from_webapp=1",
        "https://www.tiktok.com/@you/video/7301234567890",
        "video",
    ),
    (
        "tiktok",
        "http://m.tiktok.com/@you/video/7301234567890/",
        "https://www.tiktok.com/@you/video/7301234567890",
        "video",
    ),
    ("tiktok", "https://vm.tiktok.com/ZMabc123/", "https://vm.tiktok.com/ZMabc123/", "video"),
    ("tiktok", "tiktok.com/@brand.shop?lang=en", "https://www.tiktok.com/@brand.shop", "profile"),
    ("youtube", "https://youtu.be/dQw4w9WgXcQ?si=abc", "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "video"),
    (
        "youtube",
        "https://m.youtube.com/watch?v=dQw4w9WgXcQ&t=42s&list=PL1",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "video",
    ),
    ("youtube", "http://youtube.com/shorts/dQw4w9WgXcQ/", "https://www.youtube.com/shorts/dQw4w9WgXcQ", "video"),
    ("youtube", "https://www.youtube.com/live/dQw4w9WgXcQ", "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "video"),
    ("youtube", "https://www.youtube.com/@mychannel/videos", "https://www.youtube.com/@mychannel", "profile"),
    (
        "youtube",
        "youtube.com/channel/UC1234567890abcdefghijkl",
        "https://www.youtube.com/channel/UC1234567890abcdefghijkl",
        "profile",
    ),
    ("x", "https://twitter.com/jack/status/20?s=20", "https://x.com/jack/status/20", "post"),
    ("x", "http://mobile.x.com/jack/", "https://x.com/jack", "profile"),
    (
        "facebook",
        "https://m.facebook.com/brandpage/posts/pfbid02abc?ref=share",
        "https://www.facebook.com/brandpage/posts/pfbid02abc",
        "post",
    ),
    (
        "facebook",
        "fb.com/profile.php?id=100012345&sk=about",
        "https://www.facebook.com/profile.php?id=100012345",
        "profile",
    ),
    ("facebook", "https://www.facebook.com/watch/?v=123456789", "https://www.facebook.com/watch?v=123456789", "video"),
    ("telegram", "telegram.me/s/durov_news/", "https://t.me/durov_news", "profile"),
    ("telegram", "https://t.me/durov_news/123?single", "https://t.me/durov_news/123", "post"),
    (
        "spotify",
        "https://open.spotify.com/intl-de/track/4cOdK2wGLETKBW3PvgPWqT?si=1",
        "https://open.spotify.com/track/4cOdK2wGLETKBW3PvgPWqT",
        "post",
    ),
    ("other", "http://example.com/some/page?x=1#top", "https://example.com/some/page?x=1", "profile"),
]


@pytest.mark.parametrize(
    ("platform", "typed", "canonical", "kind"), ACCEPTED, ids=[f"{p}: {t.strip()}" for p, t, *_ in ACCEPTED]
)
def test_a_link_is_put_in_its_canonical_form(platform, typed, canonical, kind):
    link = links.normalise_link(platform, typed)
    assert (link.url, link.kind) == (canonical, kind)
    # canonical is a fixed point
    assert links.normalise_link(platform, link.url).url == canonical


REFUSED = [
    ("instagram", "https://evil.example/instagram.com/p/Cx1AbC2dEf/", "Use a link to Instagram (instagram.com)"),
    ("instagram", "https://instagram.com.evil.example/p/Cx1AbC2dEf/", "Use a link to Instagram (instagram.com)"),
    ("instagram", "https://www.tiktok.com/@you/video/7301234567890", "Use a link to Instagram (instagram.com)"),
    ("instagram", "javascript:alert(1)", "Use a link starting with https://"),
    ("instagram", "ftp://instagram.com/p/Cx1AbC2dEf/", "Use a link starting with https://"),
    ("instagram", "https://user:pw@instagram.com/p/Cx1AbC2dEf/", "public page"),
    ("instagram", "https://instagram.com:8443/p/Cx1AbC2dEf/", "public page"),
    ("instagram", "https://www.instagram.com/explore/", "does not point at"),
    ("instagram", "https://www.instagram.com/p/", "does not point at"),
    ("instagram", "https://www.instagram.com/p/Cx1 AbC/", "does not look like a link"),
    ("tiktok", "https://www.tiktok.com/foryou", "does not point at"),
    ("tiktok", "https://www.tiktok.com/@you/video/notanumber", "does not point at"),
    ("youtube", "https://www.youtube.com/watch?v=short", "does not point at"),
    ("youtube", "https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ", "Use a link to YouTube"),
    ("x", "https://x.com/i/flow/login", "does not point at"),
    ("facebook", "https://www.facebook.com/groups/123", "does not point at"),
    ("other", "http://127.0.0.1/admin", "public page"),
    ("other", "https://localhost/x", "does not look like a link"),
    ("instagram", "", "Paste a link"),
]


@pytest.mark.parametrize(("platform", "typed", "message"), REFUSED, ids=[f"{p}: {t}" for p, t, _ in REFUSED])
def test_a_link_off_the_platform_or_of_no_known_shape_is_refused(platform, typed, message):
    with pytest.raises(LinkInvalid) as err:
        links.normalise_link(platform, typed)
    assert message in err.value.message


@pytest.mark.parametrize(
    ("platform", "typed", "kinds", "message"),
    [
        ("instagram", "https://www.instagram.com/yourbrand/", ("post", "video"), "not of a profile"),
        ("youtube", "https://youtu.be/dQw4w9WgXcQ", ("profile",), "profile or channel itself"),
    ],
)
def test_a_link_of_the_wrong_kind_for_the_field_is_refused(platform, typed, kinds, message):
    with pytest.raises(LinkInvalid) as err:
        links.normalise_link(platform, typed, kinds=kinds)
    assert message in err.value.message


HANDLES = [
    ("instagram", "@yourbrand", "yourbrand"),
    ("instagram", " yourbrand ", "yourbrand"),
    ("instagram", "https://www.instagram.com/your.brand/?hl=en", "your.brand"),
    ("instagram", "instagram.com/yourbrand", "yourbrand"),
    ("tiktok", "https://m.tiktok.com/@brand_shop", "brand_shop"),
    ("tiktok", "@brand_shop", "brand_shop"),
    ("youtube", "https://www.youtube.com/@mychannel", "mychannel"),
    ("x", "https://twitter.com/jack", "jack"),
    ("facebook", "https://m.facebook.com/brandpage", "brandpage"),
    ("telegram", "t.me/durov_news", "durov_news"),
]


@pytest.mark.parametrize(("platform", "typed", "handle"), HANDLES, ids=[f"{p}: {t.strip()}" for p, t, _ in HANDLES])
def test_a_handle_or_a_profile_link_gives_the_handle(platform, typed, handle):
    assert links.normalise_handle(platform, typed) == handle


@pytest.mark.parametrize(
    ("platform", "typed", "message"),
    [
        ("instagram", "https://www.instagram.com/p/Cx1AbC2dEf/", "profile link itself"),
        ("instagram", "https://www.tiktok.com/@brand", "Use a link to Instagram (instagram.com)"),
        ("instagram", "@bad name", "1–30 letters"),
        ("instagram", "a" * 31, "1–30 letters"),
        ("tiktok", "@a", "2–24 letters"),
        ("x", "@this_handle_is_too_long", "1–15 letters"),
        ("instagram", "", "Enter a username"),
    ],
)
def test_a_handle_that_is_no_account_name_is_refused(platform, typed, message):
    with pytest.raises(LinkInvalid) as err:
        links.normalise_handle(platform, typed)
    assert message in err.value.message


def test_a_profile_url_is_built_from_a_handle():
    assert links.profile_url("instagram", "@yourbrand") == "https://www.instagram.com/yourbrand/"
    assert links.profile_url("tiktok", "brand") == "https://www.tiktok.com/@brand"
    assert links.profile_url("x", "https://twitter.com/jack") == "https://x.com/jack"
