"""validation write-back: what people confirmed per chunk (chunk_validations), the machine's
confidence kept beside the validated one, the correction outbox (chunks.revision_pending_at)
and the watermark of classifier training from validated labels

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chunk_validations",
        sa.Column("chunk_id", sa.String(length=36), sa.ForeignKey("chunks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("document_id", sa.String(length=36), sa.ForeignKey("documents.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=True),
        sa.Column("labels_corrected", sa.Boolean(), nullable=False),
        sa.Column("entities_confirmed", sa.Boolean(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("confirmed_by", sa.String(length=128), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("chunk_id"),
    )
    op.create_index("ix_chunk_validations_document_id", "chunk_validations", ["document_id"])
    op.create_index("ix_chunk_validations_tenant", "chunk_validations", ["tenant"])
    op.add_column("chunk_enrichment", sa.Column("machine_confidence", sa.Float(), nullable=True))
    op.add_column("chunks", sa.Column("revision_pending_at", sa.DateTime(), nullable=True))
    op.create_index("ix_chunks_revision_pending_at", "chunks", ["revision_pending_at"])
    op.create_table(
        "classifier_training_marks",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("validated_examples", sa.Integer(), nullable=False),
        sa.Column("trained_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant"),
    )


def downgrade() -> None:
    op.drop_table("classifier_training_marks")
    op.drop_index("ix_chunks_revision_pending_at", table_name="chunks")
    op.drop_column("chunks", "revision_pending_at")
    op.drop_column("chunk_enrichment", "machine_confidence")
    op.drop_index("ix_chunk_validations_tenant", table_name="chunk_validations")
    op.drop_index("ix_chunk_validations_document_id", table_name="chunk_validations")
    op.drop_table("chunk_validations")
