"""model_versions.backend: what runs a model version ("torch", or an ONNX Runtime export,
"onnx-int8" / "onnx-fp32"); existing versions are torch models

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "model_versions",
        sa.Column("backend", sa.String(length=16), nullable=False, server_default="torch"),
    )


def downgrade() -> None:
    op.drop_column("model_versions", "backend")
