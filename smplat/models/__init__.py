"""Every SQLModel table of the platform, one module per domain.

Importing this package registers all tables on SQLModel.metadata (Alembic's env.py
and the tests rely on that).
"""

from smplat.models import (  # noqa: F401
    accounts,
    audit,
    carts,
    catalog,
    checkout,
    fulfillment,
    jobs,
    merchandising,
    orders,
    payments,
    providers,
)
