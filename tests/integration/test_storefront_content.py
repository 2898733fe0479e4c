"""Content blocks on both backends: defaults, save, reset, and bad input that stores nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from smplat.models.content import ContentBlock
from smplat.services import content
from smplat.services.content import (
    ContentInvalid,
    get_block,
    get_blocks,
    reset_block,
    save_block,
)
from smplat.services.seed import seed_demo

pytestmark = pytest.mark.integration


def block_rows(session: Session) -> int:
    return session.execute(select(func.count()).select_from(ContentBlock)).scalar_one()


def test_a_fresh_shop_shows_every_default(session: Session):
    # given no content rows / when the home blocks are read
    views = get_blocks(session, content.HOME_KEYS)

    # then each is its default, complete, and marked as default
    assert list(views) == [
        "home.hero",
        "home.services",
        "home.metrics",
        "home.testimonials",
        "home.faq",
        "home.pricing",
        "home.case_study",
    ]
    assert all(v.is_default and v.updated_at is None for v in views.values())
    assert views["home.hero"].title == "Grow your audience. Watch every order deliver."
    assert len(views["home.faq"].items) == 5
    assert [i["slug"] for i in views["home.pricing"].items] == ["instagram-followers", "tiktok-views", "youtube-views"]
    assert block_rows(session) == 0


def test_saving_a_block_replaces_the_default_and_reset_brings_it_back(session: Session):
    # given an admin's testimonial
    save_block(
        session,
        "home.testimonials",
        title="Customers on SMPLAT",
        items_text="Delivery started in minutes. | Mara K. | Ceramics studio",
        user_id=None,
    )
    session.commit()

    # when it is read back
    view = get_block(session, "home.testimonials")

    # then visitors get the saved text, once
    assert (view.title, view.items, view.is_default) == (
        "Customers on SMPLAT",
        [{"quote": "Delivery started in minutes.", "name": "Mara K.", "role": "Ceramics studio"}],
        False,
    )
    assert view.updated_at is not None

    # when it is saved again and then reset
    save_block(session, "home.testimonials", title="Kind words", items_text="")
    session.commit()
    assert (block_rows(session), get_block(session, "home.testimonials").title) == (1, "Kind words")
    assert reset_block(session, "home.testimonials") is True
    session.commit()

    # then the default is back and no row is left; a second reset changes nothing
    assert get_block(session, "home.testimonials").title == "What customers say"
    assert block_rows(session) == 0
    assert reset_block(session, "home.testimonials") is False


def test_home_blocks_are_read_in_one_query(session: Session, count_queries):
    save_block(session, "home.hero", title="Hello", body="World")
    session.commit()
    with count_queries(session) as queries:
        views = get_blocks(session, content.HOME_KEYS)
    assert queries.count == 1
    assert (views["home.hero"].title, views["home.faq"].is_default) == ("Hello", True)


def test_bad_input_changes_nothing(session: Session):
    # given a saved FAQ
    save_block(session, "home.faq", title="Questions", items_text="Q1 | A1")
    session.commit()

    # when an admin saves an empty title and a broken line
    with pytest.raises(ContentInvalid) as refused:
        save_block(session, "home.faq", title="", items_text="Q1 | A1\nQ2 without answer")
    session.rollback()

    # then both mistakes are named and the stored block is untouched
    assert refused.value.errors == {
        "title": "Give the block a title.",
        "items": "Line 2: write it as “question | answer” (found 1 part).",
    }
    view = get_block(session, "home.faq")
    assert (view.title, view.items) == ("Questions", [{"question": "Q1", "answer": "A1"}])


def test_pricing_teaser_only_names_live_services(session: Session):
    # given the demo catalog
    seed_demo(session)
    session.commit()

    # when the teaser names a service that does not exist
    with pytest.raises(ContentInvalid) as refused:
        save_block(session, "home.pricing", title="Prices", items_text="tiktok-views\ninstagram-fans")
    session.rollback()

    # then the line is named and nothing is stored
    assert refused.value.errors == {
        "items": "Line 2: no live service has the address “instagram-fans” (see the links in Admin → Catalog)."
    }
    assert block_rows(session) == 0

    # and a list of live services is accepted
    save_block(session, "home.pricing", title="Prices", items_text="tiktok-views\nyoutube-views")
    session.commit()
    assert [i["slug"] for i in get_block(session, "home.pricing").items] == ["tiktok-views", "youtube-views"]


def test_unknown_keys_are_refused(session: Session):
    with pytest.raises(content.UnknownBlock):
        save_block(session, "home.banner", title="x")
    session.rollback()
    assert block_rows(session) == 0
