"""Content blocks: the admin's lines parse into items or get a clear error; defaults are complete."""

import pytest

from smplat.services import content
from smplat.services.content import ContentInvalid, get_spec, items_to_text, parse_items, validate

pytestmark = pytest.mark.unit

FAQ = get_spec("home.faq")
METRICS = get_spec("home.metrics")
HERO = get_spec("home.hero")


def test_lines_become_items_and_back():
    # given two FAQ lines with spaces and a blank line between them
    text = "  Do you need my password? |  No, never. \n\nHow fast? | Within the hour."

    # when they are parsed and written back
    items = parse_items(FAQ, text)

    # then each line is one item with trimmed parts, and the text round-trips
    assert items == [
        {"question": "Do you need my password?", "answer": "No, never."},
        {"question": "How fast?", "answer": "Within the hour."},
    ]
    assert items_to_text(FAQ, items) == "Do you need my password? | No, never.\nHow fast? | Within the hour."


@pytest.mark.parametrize(
    ("spec_key", "text", "message"),
    [
        ("home.faq", "Only a question", "Line 1: write it as “question | answer” (found 1 part)."),
        ("home.faq", "Q | A\nQ2 | A | extra", "Line 2: write it as “question | answer” (found 3 parts)."),
        ("home.faq", "Q |  ", "Line 1: the answer is empty."),
        ("home.metrics", "123456789012345678901 | too long", "Line 1: the figure is longer than 20 characters."),
        ("home.metrics", "", "Add at least 1 line."),
        ("home.metrics", "\n".join(f"{n} | label" for n in range(7)), "At most 6 lines, found 7."),
        ("home.hero", "stray | line", "This block has no list items."),
    ],
    ids=["one-part", "three-parts", "empty-part", "too-long", "too-few", "too-many", "no-items"],
)
def test_bad_lines_are_refused_with_the_line_number(spec_key, text, message):
    with pytest.raises(ContentInvalid) as refused:
        parse_items(get_spec(spec_key), text)
    assert refused.value.errors == {"items": message}


def test_every_broken_rule_is_reported_at_once():
    # given a hero with no title, a too-long line above it and no body
    # when it is validated
    with pytest.raises(ContentInvalid) as refused:
        validate(HERO, title="  ", subtitle="x" * 301, body="", items_text="")

    # then each field says what is wrong
    assert refused.value.errors == {
        "title": "Give the block a title.",
        "subtitle": "Keep this line under 300 characters (it has 301).",
        "body": "This text is shown to visitors; it cannot be empty.",
    }


def test_a_valid_block_is_trimmed():
    data = validate(METRICS, title=" What you can count on ", items_text="3 | platforms")
    assert (data.title, data.subtitle, data.body, data.items) == (
        "What you can count on",
        "",
        "",
        [{"value": "3", "label": "platforms"}],
    )


def test_unknown_block_is_named():
    with pytest.raises(content.UnknownBlock, match=r"'home\.nope'"):
        get_spec("home.nope")


@pytest.mark.parametrize("spec", content.BLOCKS, ids=[s.key for s in content.BLOCKS])
def test_every_default_passes_its_own_rules(spec):
    # given a block's built-in default
    view = content.default_view(spec)

    # when it is validated as if an admin had typed it
    data = validate(
        spec, title=view.title, subtitle=view.subtitle, body=view.body, items_text=items_to_text(spec, view.items)
    )

    # then it is accepted unchanged, with the brand name filled in
    assert data.items == view.items
    assert "{brand}" not in view.body


def test_defaults_invent_no_customers():
    # testimonials are the owner's to publish: the default has none, so the section stays hidden
    assert content.default_view(get_spec("home.testimonials")).items == []
    assert "not a customer's results" in content.default_view(get_spec("home.case_study")).subtitle
