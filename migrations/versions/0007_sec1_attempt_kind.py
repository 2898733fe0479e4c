"""Sign-in throttling by kind: login_attempts.kind (password, reset, totp).

Existing rows were all password sign-ins, so the server default fills them.

Revision ID: 0007_sec1_attempt_kind
Revises: 0004_checkout
Create Date: 2026-11-26 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007_sec1_attempt_kind"
down_revision: str | None = "0006_pricing_integer_fields"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default="password")
        )


def downgrade() -> None:
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_column("kind")
