"""documents.purged_at: when the search service confirmed a deleted (or cancelled)
document's index points gone; until then the watchdog re-sends its DeleteDocument

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("purged_at", sa.DateTime(), nullable=True))
    # Deletions from before this column are taken as done: re-sending every historical one
    # at the first watchdog run would be a burst of work for nothing in the common case
    # (`documind index check` finds any points a lost message left behind).
    op.execute(
        "UPDATE documents SET purged_at = COALESCE(deleted_at, completed_at, updated_at) "
        "WHERE status IN ('deleted', 'cancelled')"
    )


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("purged_at")
