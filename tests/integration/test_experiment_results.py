"""Pricing experiments: verdicts against the control, the suggested winner, and promotion of a
variant's price to the list price (published product and its open draft), on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from smplat.models.accounts import User
from smplat.models.audit import AuditLog
from smplat.models.catalog import Category, Product, ProductOption, ProductOptionGroup, ProductPlan
from smplat.models.merchandising import PriceExperiment, PriceExperimentVariant
from smplat.services import experiments
from smplat.services.audit import Actor
from smplat.services.errors import ErrorCode
from smplat.services.permissions import PermissionDenied

pytestmark = pytest.mark.integration


@pytest.fixture
def operator(session: Session) -> Actor:
    user = User(email="operator@example.com", password_hash="x", role="operator")
    session.add(user)
    session.commit()
    return Actor.staff(user.id, user.email, user.role)


def _product(session: Session, *, slug: str, draft_of: int | None = None, category_id: int | None = None) -> Product:
    if category_id is None:
        category = Category(slug="ig", name="Instagram")
        session.add(category)
        session.flush()
        category_id = category.id
    product = Product(
        category_id=category_id,
        slug=slug,
        title="Instagram Followers",
        base_price_minor=1299,
        status="draft" if draft_of else "active",
        draft_of_id=draft_of,
    )
    session.add(product)
    session.flush()
    group = ProductOptionGroup(product_id=product.id, key="package", name="Package")
    session.add(group)
    session.flush()
    session.add_all(
        [
            ProductOption(group_id=group.id, key="1000", label="1,000", price_delta_minor=0, quantity=1000),
            ProductOption(group_id=group.id, key="5000", label="5,000", price_delta_minor=4005, quantity=5000),
        ]
    )
    session.add(ProductPlan(product_id=product.id, key="monthly", name="Monthly", price_minor=2999))
    session.flush()
    return product


def _experiment(session: Session, product_id: int, counts: dict[str, tuple[int, int, int]]) -> PriceExperiment:
    experiment = experiments.create_experiment(
        session,
        product_id=product_id,
        key="ig-price",
        name="Ten off",
        variants=[("control", "List price", 10000, 1), ("lower", "Ten off", 9000, 1), ("higher", "Plus 20", 12000, 1)],
    )
    for variant in session.execute(
        select(PriceExperimentVariant).where(PriceExperimentVariant.experiment_id == experiment.id)
    ).scalars():
        variant.exposures, variant.conversions, variant.revenue_minor = counts[variant.key]
    session.commit()
    return experiment


def _rows(session: Session) -> dict[str, dict]:
    return {row["variant_key"]: row for row in experiments.experiment_rows(session)}


def test_verdicts_need_the_minimum_sample_then_follow_the_z_test(session: Session, monkeypatch) -> None:
    monkeypatch.setenv("SMPLAT_EXPERIMENT_MIN_EXPOSURES", "1000")
    from smplat.settings import reset_settings_cache

    reset_settings_cache()
    product = _product(session, slug="ig-followers")
    _experiment(
        session,
        product.id,
        {"control": (1000, 100, 129_900), "lower": (1000, 130, 152_000), "higher": (999, 80, 124_700)},
    )
    rows = _rows(session)
    assert rows["control"]["verdict"] == "Control" and not rows["control"]["can_promote"]
    # 130 / 1000 against 100 / 1000: z = 2.10, p = 0.0355; more revenue per visitor too
    assert (rows["lower"]["verdict"], rows["lower"]["p_value"], rows["lower"]["tone"]) == (
        "Converts better",
        "0.035",
        "green",
    )
    assert rows["lower"]["suggested"] is True and rows["lower"]["can_promote"] is True
    assert rows["lower"]["per_visitor"] == "€1.52" and rows["control"]["per_visitor"] == "€1.30"
    # one visitor short of the minimum: no verdict, whatever the numbers say
    assert rows["higher"]["verdict"] == "Needs more data (999 of 1000 visitors)"
    assert rows["higher"]["suggested"] is False

    # better conversion but less revenue per visitor is not suggested
    variant = session.execute(select(PriceExperimentVariant).where(PriceExperimentVariant.key == "lower")).scalar_one()
    variant.revenue_minor = 120_000
    session.commit()
    rows = _rows(session)
    assert rows["lower"]["verdict"] == "Converts better" and rows["lower"]["suggested"] is False
    reset_settings_cache()


def test_promotion_reprices_the_product_and_its_draft_and_is_audited(session: Session, operator: Actor) -> None:
    published = _product(session, slug="ig-followers")
    draft = _product(session, slug="ig-followers--draft", draft_of=published.id, category_id=published.category_id)
    experiment = _experiment(
        session, published.id, {"control": (10, 1, 1299), "lower": (10, 2, 2338), "higher": (10, 0, 0)}
    )
    versions = {p.id: p.version for p in (published, draft)}

    experiments.promote_variant(session, experiment.id, "lower", actor=operator)
    session.commit()
    session.expire_all()

    for product_id in (published.id, draft.id):
        product = session.get(Product, product_id)
        # 90 % of each list price, each rounded half up: 1299 -> 1169.1 -> 1169; 4005 -> 3604.5 -> 3605
        assert product.base_price_minor == 1169
        assert product.version == versions[product_id] + 1
        deltas = session.execute(
            select(ProductOption.key, ProductOption.price_delta_minor)
            .join(ProductOptionGroup, ProductOptionGroup.id == ProductOption.group_id)
            .where(ProductOptionGroup.product_id == product_id)
            .order_by(ProductOption.key)
        ).all()
        assert [tuple(row) for row in deltas] == [("1000", 0), ("5000", 3605)]
        plan = session.execute(select(ProductPlan).where(ProductPlan.product_id == product_id)).scalar_one()
        assert plan.price_minor == 2699  # 2699.1
    promoted = session.get(PriceExperiment, experiment.id)
    assert (promoted.status, promoted.promoted_variant_key) == ("promoted", "lower")
    entry = session.execute(select(AuditLog).where(AuditLog.action == "experiment.promote")).scalar_one()
    assert entry.data["before"]["prices"][str(published.id)]["base"] == 1299
    assert entry.data["after"]["prices"][str(draft.id)]["option:package:5000"] == 3605
    rows = _rows(session)
    assert rows["lower"]["verdict"] == "Promoted" and not any(r["can_promote"] for r in rows.values())

    # a second promotion, of anything, is refused and changes nothing
    with pytest.raises(experiments.ExperimentError) as again:
        experiments.promote_variant(session, experiment.id, "higher", actor=operator)
    assert again.value.code is ErrorCode.CONFLICT
    session.rollback()
    assert session.get(Product, published.id).base_price_minor == 1169


def test_promoting_the_control_an_unknown_variant_or_without_permission_is_refused(
    session: Session, operator: Actor
) -> None:
    product = _product(session, slug="ig-followers")
    experiment = _experiment(session, product.id, {"control": (1, 0, 0), "lower": (1, 0, 0), "higher": (1, 0, 0)})
    with pytest.raises(experiments.ExperimentError) as control:
        experiments.promote_variant(session, experiment.id, "control", actor=operator)
    assert control.value.code is ErrorCode.NOT_ALLOWED
    with pytest.raises(experiments.ExperimentError) as unknown:
        experiments.promote_variant(session, experiment.id, "nope", actor=operator)
    assert unknown.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(PermissionDenied):
        experiments.promote_variant(
            session, experiment.id, "lower", actor=Actor.staff(operator.user_id, "client@example.com", "customer")
        )
    session.rollback()
    session.expire_all()
    assert session.get(Product, product.id).base_price_minor == 1299
    assert session.get(PriceExperiment, experiment.id).status == "running"
