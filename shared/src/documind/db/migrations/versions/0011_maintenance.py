"""scheduled_runs: one row per (periodic job, scheduled tick), the lock that keeps two
schedulers from running a job twice, and the record the scheduler health check reads

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduled_runs",
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("tick", sa.DateTime(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("job", "tick"),
    )
    op.create_index("ix_scheduled_runs_job_started_at", "scheduled_runs", ["job", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_scheduled_runs_job_started_at", table_name="scheduled_runs")
    op.drop_table("scheduled_runs")
