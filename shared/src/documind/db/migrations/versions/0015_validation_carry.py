"""validations outlive their chunks (detached_validations), the watchdog's re-send of lost
classifier retrains (label_classifiers.retrain_sent_at), and the partial indexes of the
follow-up check (documents.enriched_generation)

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

CLASSIFY_WHERE = {
    "postgresql": "status = 'completed' AND (metadata -> 'classification') IS NULL",
    "sqlite": "status = 'completed' AND json_extract(metadata, '$.classification') IS NULL",
}
ENRICH_WHERE = {
    "postgresql": "status = 'completed' AND enriched_generation IS NULL",
    "sqlite": "status = 'completed' AND enriched_generation IS NULL",
}


def upgrade() -> None:
    op.create_table(
        "detached_validations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.String(length=36), sa.ForeignKey("documents.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("chunk_id", sa.String(length=36), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=True),
        sa.Column("labels_corrected", sa.Boolean(), nullable=False),
        sa.Column("entities_confirmed", sa.Boolean(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("confirmed_by", sa.String(length=128), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=False),
        sa.Column("detached_at", sa.DateTime(), nullable=False),
        sa.Column("carried_to", sa.String(length=36), nullable=True),
        sa.Column("carried_generation", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_detached_validations_document_id", "detached_validations", ["document_id"])
    op.create_index("ix_detached_validations_tenant", "detached_validations", ["tenant"])
    op.add_column("label_classifiers", sa.Column("retrain_sent_at", sa.DateTime(), nullable=True))
    op.add_column("documents", sa.Column("enriched_generation", sa.Integer(), nullable=True))
    # Documents enriched before this revision: a record of their current generation says so.
    op.execute(
        "UPDATE documents SET enriched_generation = (SELECT e.generation FROM document_enrichment e "
        "WHERE e.document_id = documents.id AND e.generation = documents.generation)"
    )
    dialect = op.get_bind().dialect.name
    for name, where in (("ix_documents_followup_classify", CLASSIFY_WHERE), ("ix_documents_followup_enrich", ENRICH_WHERE)):
        op.create_index(name, "documents", ["completed_at", "id"],
                        **{f"{dialect}_where": sa.text(where[dialect])} if dialect in where else {})


def downgrade() -> None:
    op.drop_index("ix_documents_followup_enrich", table_name="documents")
    op.drop_index("ix_documents_followup_classify", table_name="documents")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("enriched_generation")
    with op.batch_alter_table("label_classifiers") as batch:
        batch.drop_column("retrain_sent_at")
    op.drop_index("ix_detached_validations_tenant", table_name="detached_validations")
    op.drop_index("ix_detached_validations_document_id", table_name="detached_validations")
    op.drop_table("detached_validations")
