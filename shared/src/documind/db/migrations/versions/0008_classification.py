"""classification: per-tenant taxonomies (taxonomy_labels), supervised classifiers
(label_classifiers) and each chunk's top label (chunks.classification)

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "taxonomy_labels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "name", name="uq_taxonomy_labels_tenant_name"),
    )
    op.create_index("ix_taxonomy_labels_tenant", "taxonomy_labels", ["tenant"])
    op.create_table(
        "label_classifiers",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("embedding_model", sa.String(length=255), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("weights", sa.LargeBinary(), nullable=False),
        sa.Column("bias", sa.LargeBinary(), nullable=False),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("trained_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant"),
    )
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("classification", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("classification")
    op.drop_table("label_classifiers")
    op.drop_index("ix_taxonomy_labels_tenant", table_name="taxonomy_labels")
    op.drop_table("taxonomy_labels")
