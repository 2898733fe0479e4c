"""The orders table, shown in the account area and (with the customer column) in the admin."""

from __future__ import annotations

import reflex as rx

from smplat.ui import routes
from smplat.ui.components.common import data_table, status_badge

ORDER_COLUMNS = ["Order", "Placed", "Items", "Total", "Status", "Payment"]


def orders_table(rows: rx.Var, *, show_customer: bool = False) -> rx.Component:
    headers = [ORDER_COLUMNS[0], *(["Customer"] if show_customer else []), *ORDER_COLUMNS[1:]]
    return data_table(
        headers,
        rows,
        lambda o: [
            rx.table.row_header_cell(
                rx.link(
                    o["number"],
                    href=routes.ADMIN_ORDERS + "/" + o["number"].to(str),
                    weight="medium",
                    id="admin-order-" + o["number"].to(str),
                )
                if show_customer
                else rx.text(o["number"], weight="medium")
            ),
            *([rx.table.cell(o["customer_email"])] if show_customer else []),
            rx.table.cell(o["placed_at"]),
            rx.table.cell(o["items"]),
            rx.table.cell(o["total"]),
            rx.table.cell(status_badge(o["status"])),
            rx.table.cell(status_badge(o["payment_status"])),
        ],
        "orders-table",
    )
