"""Unit-of-work semantics on both backends: a create-once insert inside begin_nested()
never outlives the rollback of the surrounding transaction, and a reader sees commits."""

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from smplat.db import get_engine
from smplat.models.accounts import User

pytestmark = pytest.mark.integration


def users(url: str) -> int:
    with Session(get_engine(url)) as fresh:
        return fresh.execute(select(func.count()).select_from(User)).scalar_one()


def test_a_savepoint_before_any_write_does_not_commit_on_release(db_url):
    with Session(get_engine(db_url)) as session:
        session.execute(select(func.count()).select_from(User))  # a read first, no write yet
        with session.begin_nested():
            session.add(User(email="nested@example.com", password_hash="x"))
        # the savepoint is released; the surrounding unit of work is then abandoned
        session.rollback()
    assert users(db_url) == 0


def test_a_released_savepoint_commits_with_its_transaction(db_url):
    with Session(get_engine(db_url)) as session:
        with session.begin_nested():
            session.add(User(email="nested@example.com", password_hash="x"))
        session.commit()
    assert users(db_url) == 1


def test_a_long_lived_reader_sees_other_sessions_commits(db_url):
    with Session(get_engine(db_url)) as reader:
        assert reader.execute(select(func.count()).select_from(User)).scalar_one() == 0
        with Session(get_engine(db_url)) as writer:
            writer.add(User(email="later@example.com", password_hash="x"))
            writer.commit()
        reader.rollback()  # end the read transaction (PostgreSQL keeps a snapshot per transaction otherwise)
        assert reader.execute(select(func.count()).select_from(User)).scalar_one() == 1
