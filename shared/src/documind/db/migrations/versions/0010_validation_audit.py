"""validation and audit: the hash-chained audit log and its head, validators, validation
tasks and answers, documents.validated_at/validated_confidence, chunks.rejected_at

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=16)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("entity_type", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_log_entity", "audit_log", ["entity_type", "entity_id"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    # The one head row exists from the start: appends only ever UPDATE it (its row lock).
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])
    op.create_table(
        "validators",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("compared", sa.Integer(), nullable=False),
        sa.Column("agreed", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "validation_tasks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("chunk_idx", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("document_confidence", sa.Float(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("lane", _enum("lane", "interactive", "bulk"), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("status", _enum("task_status", "open", "assigned", "answered", "superseded"), nullable=False),
        sa.Column("required_answers", sa.Integer(), nullable=False),
        sa.Column("assigned_to", sa.Integer(), sa.ForeignKey("validators.id"), nullable=True),
        sa.Column("assigned_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", _enum("verdict", "approve", "correct", "reject"), nullable=True),
        sa.Column("final_confidence", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("document_id", "generation", "chunk_idx", name="uq_validation_tasks_chunk"),
    )
    op.create_index("ix_validation_tasks_document_id", "validation_tasks", ["document_id"])
    op.create_index("ix_validation_tasks_assigned_to", "validation_tasks", ["assigned_to"])
    op.create_index("ix_validation_tasks_queue", "validation_tasks", ["status", "priority"])
    op.create_table(
        "validation_answers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("validation_tasks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("validator_id", sa.Integer(), sa.ForeignKey("validators.id"), nullable=False),
        sa.Column("verdict", _enum("verdict", "approve", "correct", "reject"), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=True),
        sa.Column("original_text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("task_id", "validator_id", name="uq_validation_answers_task_validator"),
    )
    op.create_index("ix_validation_answers_task_id", "validation_answers", ["task_id"])
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("validated_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("validated_confidence", sa.Float(), nullable=True))
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("rejected_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("rejected_at")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("validated_confidence")
        batch.drop_column("validated_at")
    op.drop_table("validation_answers")
    op.drop_table("validation_tasks")
    op.drop_table("validators")
    op.drop_table("audit_head")
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    op.drop_table("audit_log")
