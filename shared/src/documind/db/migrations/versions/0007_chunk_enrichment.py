"""chunk_enrichment, chunk_entities, document_enrichment: what the embed stage learns about
each chunk besides its vector (entities with offsets, sentiment, quality and confidence) and
the document's aggregate

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chunk_enrichment",
        sa.Column("chunk_id", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=False),
        sa.Column("sentiment_label", sa.String(length=16), nullable=False),
        sa.Column("quality", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("enriched_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["chunk_id"], ["chunks.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("chunk_id"),
    )
    op.create_index("ix_chunk_enrichment_document_id", "chunk_enrichment", ["document_id"])
    op.create_table(
        "chunk_entities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chunk_id", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("text", sa.String(length=512), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("end", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["chunk_id"], ["chunks.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_chunk_entities_chunk_id", "chunk_entities", ["chunk_id"])
    op.create_index("ix_chunk_entities_document_type_value", "chunk_entities", ["document_id", "type", "value"])
    op.create_table(
        "document_enrichment",
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=False),
        sa.Column("sentiment_label", sa.String(length=16), nullable=False),
        sa.Column("quality", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("low_confidence_chunks", sa.Integer(), nullable=False),
        sa.Column("entity_counts", sa.JSON(), nullable=False),
        sa.Column("review_sent_at", sa.DateTime(), nullable=True),
        sa.Column("enriched_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("document_id"),
    )


def downgrade() -> None:
    op.drop_table("document_enrichment")
    op.drop_index("ix_chunk_entities_document_type_value", table_name="chunk_entities")
    op.drop_index("ix_chunk_entities_chunk_id", table_name="chunk_entities")
    op.drop_table("chunk_entities")
    op.drop_index("ix_chunk_enrichment_document_id", table_name="chunk_enrichment")
    op.drop_table("chunk_enrichment")
