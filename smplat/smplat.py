"""The rx.App: every page with its guard and loader, and the API routes on the same port."""

from __future__ import annotations

import logging
import sys

import reflex as rx

from smplat.api.app import build_api
from smplat.settings import get_settings
from smplat.ui import routes
from smplat.ui.pages.account import pages as account
from smplat.ui.pages.admin import content as admin_content
from smplat.ui.pages.admin import fulfilment as admin_fulfilment
from smplat.ui.pages.admin import providers as admin_providers
from smplat.ui.pages.admin import jobs as admin_jobs
from smplat.ui.pages.admin import pages as admin
from smplat.ui.pages.admin import search_insights as admin_search
from smplat.ui.pages.admin import routing as admin_routing
from smplat.ui.pages.admin import sales as admin_sales
from smplat.ui.pages.storefront import auth, catalog, home, legal, misc, services
from smplat.ui.pages.storefront import checkout as checkout_pages
from smplat.ui.state.auth import AuthState
from smplat.ui.theme import global_style

_unsafe = get_settings().production_refusal("web")
if _unsafe is not None:
    # the web app never serves a production shop with sandbox secrets or insecure cookies
    print(_unsafe, file=sys.stderr, flush=True)
    raise SystemExit(2)

logging.basicConfig(level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
# Reflex compares the schema with Alembic at start-up; its INFO chatter is not ours to show.
logging.getLogger("alembic").setLevel(logging.WARNING)

BRAND = get_settings().brand_name

app = rx.App(
    style=global_style,
    stylesheets=["/smplat.css"],
    api_transformer=build_api(),
    head_components=[rx.el.meta(name="theme-color", content="#6d28d9")],
)

# Storefront (public)
app.add_page(home.home_page, route=routes.HOME, title=f"{BRAND} · Social growth services",
             description="Followers, likes, views and growth plans, delivered and tracked live.",
             on_load=home.HomeState.load_home)
app.add_page(services.services_page, route=routes.SERVICES, title=f"Services · {BRAND}",
             on_load=services.ServicesState.load_services)
app.add_page(catalog.product_page, route=f"{routes.SERVICES}/[slug]", title=f"Service · {BRAND}",
             on_load=catalog.ProductState.load_product)
for legal_route, legal_title in ((routes.TERMS, "Terms of service"), (routes.PRIVACY, "Privacy policy"),
                                  (routes.IMPRINT, "Imprint")):
    app.add_page(legal.legal_page, route=legal_route, title=f"{legal_title} · {BRAND}",
                 on_load=legal.LegalState.load_legal)
app.add_page(checkout_pages.cart_page, route=routes.CART, title=f"Cart · {BRAND}",
             on_load=checkout_pages.CartState.load_cart)
app.add_page(checkout_pages.success_page, route=routes.CHECKOUT_SUCCESS, title=f"Order placed · {BRAND}",
             on_load=checkout_pages.CheckoutResultState.load_success)
app.add_page(checkout_pages.cancel_page, route=routes.CHECKOUT_CANCEL, title=f"Checkout not completed · {BRAND}",
             on_load=checkout_pages.CheckoutResultState.load_cancel)
app.add_page(auth.signin_page, route=routes.SIGN_IN, title=f"Sign in · {BRAND}", on_load=auth.AuthFormState.open_form)
app.add_page(auth.signup_page, route=routes.SIGN_UP, title=f"Create account · {BRAND}",
             on_load=auth.AuthFormState.open_form)
app.add_page(auth.forgot_password_page, route=routes.FORGOT_PASSWORD, title=f"Reset password · {BRAND}",
             on_load=auth.AuthFormState.open_form)
app.add_page(auth.reset_password_page, route=routes.RESET_PASSWORD, title=f"Choose a new password · {BRAND}",
             on_load=auth.AuthFormState.open_form)

# Client dashboard (signed-in)
app.add_page(account.account_overview_page, route=routes.ACCOUNT, title=f"My account · {BRAND}",
             on_load=[AuthState.require_signed_in, account.AccountState.load_orders])
app.add_page(account.account_orders_page, route=routes.ACCOUNT_ORDERS, title=f"My orders · {BRAND}",
             on_load=[AuthState.require_signed_in, account.AccountState.load_orders])

# Admin (operator or admin; every loader re-checks on the server)
app.add_page(admin.admin_home_page, route=routes.ADMIN, title=f"Admin · {BRAND}",
             on_load=[AuthState.require_staff, admin.AdminState.load_dashboard])
app.add_page(admin.admin_orders_page, route=routes.ADMIN_ORDERS, title=f"Orders · Admin · {BRAND}",
             on_load=[AuthState.require_staff, admin.AdminState.load_orders])
app.add_page(admin.admin_catalog_page, route=routes.ADMIN_CATALOG, title=f"Catalog · Admin · {BRAND}",
             on_load=[AuthState.require_staff, admin.AdminState.load_catalog])
app.add_page(admin_routing.admin_routing_page, route=f"{routes.ADMIN_CATALOG}/[slug]",
             title=f"Routing preview · Admin · {BRAND}",
             on_load=[AuthState.require_staff, admin_routing.RoutingPreviewState.load])
app.add_page(admin.admin_customers_page, route=routes.ADMIN_CUSTOMERS, title=f"Customers · Admin · {BRAND}",
             on_load=[AuthState.require_staff, admin.AdminState.load_customers])
app.add_page(admin_jobs.admin_jobs_page, route=routes.ADMIN_JOBS, title=f"Jobs · Admin · {BRAND}",
             on_load=[AuthState.require_staff, admin_jobs.JobsState.load_jobs])
app.add_page(admin_content.admin_content_page, route=routes.ADMIN_CONTENT, title=f"Content · Admin · {BRAND}",
             on_load=[AuthState.require_staff, admin_content.ContentAdminState.load_content])
app.add_page(admin_search.admin_search_insights_page, route=routes.ADMIN_SEARCH_INSIGHTS,
             title=f"Search insights · Admin · {BRAND}",
             on_load=[AuthState.require_staff, admin_search.SearchInsightsState.load_insights])

app.add_page(admin_sales.admin_sales_page, route=routes.ADMIN_SALES, title=f"Sales · Admin · {BRAND}",
             on_load=[AuthState.require_staff, admin_sales.SalesState.load_sales])

app.add_page(admin_fulfilment.admin_order_page, route=f"{routes.ADMIN_ORDERS}/[number]", title=f"Order · Admin · {BRAND}",
             on_load=[AuthState.require_staff, admin_fulfilment.OrderDetailState.load])
app.add_page(admin_providers.admin_providers_page, route=routes.ADMIN_PROVIDERS, title=f"Providers · Admin · {BRAND}",
             on_load=[AuthState.require_staff, admin_providers.ProvidersState.load])
app.add_page(admin_providers.admin_provider_page, route=f"{routes.ADMIN_PROVIDERS}/[provider_id]",
             title=f"Provider · Admin · {BRAND}",
             on_load=[AuthState.require_staff, admin_providers.ProviderDetailState.load])
app.add_page(admin_fulfilment.admin_dead_letters_page, route=routes.ADMIN_DEAD_LETTERS,
             title=f"Dead letters · Admin · {BRAND}",
             on_load=[AuthState.require_staff, admin_fulfilment.DeadLettersState.load])
app.add_page(admin_fulfilment.admin_fulfilment_page, route=routes.ADMIN_FULFILMENT, title=f"Fulfilment · Admin · {BRAND}",
             on_load=[AuthState.require_staff, admin_fulfilment.FulfilmentState.load])

app.add_page(misc.not_found_page, route="404", title=f"Page not found · {BRAND}", on_load=AuthState.load_user)
