"""label_training_examples: the examples a tenant's supervised classifier was trained on
(text, labels, source), so it can be rebuilt in another embedding model's vector space after
a model swap

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_training_examples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_label_training_examples_tenant", "label_training_examples", ["tenant"])


def downgrade() -> None:
    op.drop_index("ix_label_training_examples_tenant", table_name="label_training_examples")
    op.drop_table("label_training_examples")
