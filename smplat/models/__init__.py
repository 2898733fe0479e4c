"""Every SQLModel table of the platform, one module per domain.

Importing this package registers all tables on SQLModel.metadata (Alembic's env.py
and the tests rely on that).
"""

from smplat.models import (  # noqa: F401
    accounts,
    analytics,
    audit,
    carts,
    catalog,
    checkout,
    content,
    fulfillment,
    invoices,
    jobs,
    merchandising,
    notifications,
    orders,
    payments,
    profiles,
    providers,
    resellers,
    rollups,
)
