"""documents.lane: the priority lane (interactive / bulk) every stage's messages travel on

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing documents were all sent on the (then only) interactive queues.
    with op.batch_alter_table("documents") as batch:
        batch.add_column(
            sa.Column(
                "lane",
                sa.Enum("interactive", "bulk", name="lane", native_enum=False, length=16),
                nullable=False,
                server_default="interactive",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("lane")
