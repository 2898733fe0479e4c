"""The product editor's pages through their state handlers, as the websocket calls them: an
operator creates a product, builds its option matrix and add-ons, previews it with margins and
publishes it; a stale save is refused with the service's message; a customer is refused at the
server."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlmodel import Session

from smplat.models.accounts import Role
from smplat.models.catalog import Category, Product, ProductCustomField, ProductStatus
from smplat.models.providers import Provider, ProviderService, ServiceRoute
from smplat.services import catalog
from smplat.ui.pages.admin.product_editor import EditorState
from smplat.ui.pages.storefront.product import ProductState

pytestmark = pytest.mark.integration


def _shop(session: Session) -> tuple[int, int]:
    category = Category(slug="instagram", name="Instagram", platform="instagram")
    provider = Provider(name="Panel A", slug="panel-a", base_url="https://panel.invalid/api/v2")
    session.add_all([category, provider])
    session.flush()
    service = ProviderService(
        provider_id=provider.id, external_service_id="77", name="IG likes HQ", rate_per_1000=Decimal("3.00")
    )
    session.add(service)
    session.commit()
    return int(category.id), int(service.id)


def _events(result) -> list:
    return result if isinstance(result, list) else [result]


def _redirect_path(result) -> str:
    for event in _events(result):
        text = str(event)
        if "_redirect" in text or "redirect" in text:
            return text
    return ""


async def _editor(root_state, cookie: str, product_id: str, tab: str = "") -> EditorState:
    path = f"/admin/products/{product_id}" + (f"/{tab}" if tab else "")
    return await root_state(EditorState, path, params={"product_id": product_id}, cookie=cookie)


async def _create(root_state, cookie: str, category_id: int, service_id: int) -> int:
    state = await _editor(root_state, cookie, "new")
    state.load_details()
    assert state.is_new and state.values["category_id"] == str(category_id)
    result = state.save_details(
        {
            "category_id": str(category_id),
            "title": "Instagram Likes Pro",
            "slug": "ig-likes-pro",
            "platform": "instagram",
            "kind": "likes",
            "unit_label": "likes",
            "min_quantity": "100",
            "max_quantity": "5000",
            "base_price": "0",
            "delivery_estimate_hours": "12",
            "tagline": "Likes from real accounts",
        }
    )
    assert state.form_error == "" and state.errors == {}
    with_id = _redirect_path(result)
    product_id = int(with_id.split("/admin/products/")[1].split("/")[0])
    assert "/options" in with_id

    options = await _editor(root_state, cookie, str(product_id), "options")
    assert options.load_options() is None and options.found
    options.save_group(
        {"group_id": "", "key": "package", "name": "Package size", "selection": "single", "required": "on"}
    )
    assert options.notice == "Option group saved." and options.groups[0]["key"] == "package"
    group_id = options.groups[0]["id"]
    options.edit_option(group_id, "")
    options.set_calculator("amount / days")
    options.set_sample_inputs("amount=1000, days=4")
    assert options.calc_sample == "Sample output: 250"
    options.set_calculator("amount / (")
    assert "option-calculator" in options.errors and options.calc_sample == ""
    options.save_option(
        {
            "group_id": group_id,
            "option_id": "",
            "key": "500",
            "label": "500 likes",
            "price": "6.00",
            "quantity": "500",
            "is_active": "on",
            "calculator": "amount / days",
            "sample_inputs": "amount=500, days=2",
            "price_total": "0.01",  # not a form field of ours: ignored
        }
    )
    assert options.form_error == "", options.errors
    assert [(o["key"], o["price"], o["quantity"]) for o in options.groups[0]["options"]] == [("500", "€6.00", "500")]
    options.edit_add_on("")
    options.pick_mode("service_override")
    options.pick_service(str(service_id))
    options.pick_amount("1.50")
    # 500 likes at 3.00 / 1000 cost €1.50; the customer pays 6.00 + 1.50
    assert options.service_check["cost"] == "€1.50" and options.service_check["margin"] == "80.0 %"
    assert options.service_check["verdict"] == "ok"
    options.save_add_on(
        {
            "add_on_id": "",
            "key": "hq",
            "label": "High-quality accounts",
            "pricing_mode": "service_override",
            "amount": "1.50",
            "provider_service_id": str(service_id),
            "is_active": "on",
        }
    )
    assert options.form_error == "" and options.add_ons[0]["key"] == "hq"
    return product_id


async def test_operator_builds_previews_and_publishes_a_product(db_url, session, root_state, session_cookie_for):
    category_id, service_id = _shop(session)
    cookie = session_cookie_for(Role.OPERATOR)
    product_id = await _create(root_state, cookie, category_id, service_id)

    preview = await _editor(root_state, cookie, str(product_id), "preview")
    chained = preview.load_preview()
    assert any("load_preview" in str(e) for e in _events(chained))
    # no route yet: the publish list says so and links to where to fix it
    assert any("no provider route" in p["message"] for p in preview.problems)
    # nor a field that asks where to deliver
    assert any(p["href"].endswith("/fields#fields") for p in preview.problems)
    refused = preview.publish()
    assert refused is None and "cannot be published" in preview.form_error
    session.add(ServiceRoute(product_id=product_id, provider_service_id=service_id))
    session.add(
        ProductCustomField(product_id=product_id, key="post_link", label="Post link", field_type="url", required=True)
    )
    session.commit()
    preview.load_preview()
    assert preview.problems == []

    configurator = await root_state(ProductState, f"/admin/products/{product_id}/preview", cookie=cookie)
    configurator.load_preview(product_id)
    assert configurator.preview_mode and configurator.product["title"] == "Instagram Likes Pro"
    assert configurator.total == "€6.00"
    assert configurator.preview_margins[0]["channel"] == "Storefront"
    assert configurator.preview_margins[0]["margin"] == "75.0 %"  # 6.00 against 1.50
    configurator.toggle_add_on("hq")
    assert configurator.total == "€7.50"
    storefront = next(r for r in configurator.preview_margins if r["channel"] == "Storefront")
    assert storefront["service"].endswith("#77 IG likes HQ") and storefront["margin"] == "80.0 %"
    assert any(r["channel"].startswith("Reseller API") for r in configurator.preview_margins)

    published = preview.publish()
    assert "/services/ig-likes-pro" in _redirect_path(published)
    session.expire_all()
    detail = catalog.get_product_detail(session, "ig-likes-pro")
    assert detail is not None and detail.product.status == ProductStatus.ACTIVE.value
    assert [o.price_delta_minor for _, opts in detail.groups for o in opts] == [600]

    # opening the editor of the published product moves to its (new) draft
    again = await _editor(root_state, cookie, str(product_id))
    moved = _redirect_path(again.load_details())
    draft = session.execute(select(Product).where(Product.draft_of_id == product_id)).scalar_one()
    assert f"/admin/products/{draft.id}" in moved


async def test_a_stale_save_is_refused_with_a_clear_message(db_url, session, root_state, session_cookie_for):
    category_id, service_id = _shop(session)
    cookie = session_cookie_for(Role.OPERATOR)
    product_id = await _create(root_state, cookie, category_id, service_id)
    first = await _editor(root_state, cookie, str(product_id))
    second = await _editor(root_state, session_cookie_for(Role.OPERATOR, "second@guards.test"), str(product_id))
    first.load_details()
    second.load_details()
    form = {**first.values, "title": "Saved by the first"}
    first.save_details(form)
    assert first.notice.startswith("Saved (version")
    second.save_details({**second.values, "title": "Saved by the second"})
    assert "Someone else saved this product" in second.form_error and "Reload" in second.form_error
    session.expire_all()
    assert session.get(Product, product_id).title == "Saved by the first"


async def test_a_customer_is_refused_at_the_server(db_url, session, root_state, session_cookie_for):
    category_id, service_id = _shop(session)
    operator = session_cookie_for(Role.OPERATOR)
    product_id = await _create(root_state, operator, category_id, service_id)
    customer = session_cookie_for(Role.CUSTOMER)
    state = await _editor(root_state, customer, str(product_id))
    state.product_id, state.version = product_id, session.get(Product, product_id).version
    state.save_details({"title": "Hijacked", "slug": "hijacked", "category_id": str(category_id)})
    state.publish()
    configurator = await root_state(ProductState, f"/admin/products/{product_id}/preview", cookie=customer)
    configurator.load_preview(product_id)
    assert configurator.product == {} and not configurator.preview_mode
    session.expire_all()
    row = session.get(Product, product_id)
    assert row.title == "Instagram Likes Pro" and row.status == ProductStatus.DRAFT.value
