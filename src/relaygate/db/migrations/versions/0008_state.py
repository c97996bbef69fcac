"""State the gateway owns: stored responses and their items, conversations and their
items, stored chat completions.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = 100


def _user_fk(table: str) -> sa.ForeignKey:
    return sa.ForeignKey("users.id", ondelete="CASCADE", name=f"fk_{table}_user_id_users")


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.String(_ID), primary_key=True),
        sa.Column("user_id", sa.Integer(), _user_fk("responses"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("background", sa.Boolean(), nullable=False),
        sa.Column("previous_response_id", sa.String(_ID), nullable=True),
        sa.Column("conversation_id", sa.String(_ID), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
    )
    op.create_index("ix_responses_user_id", "responses", ["user_id"])
    op.create_index("ix_responses_created_at", "responses", ["created_at"])
    op.create_table(
        "response_items",
        sa.Column(
            "response_id",
            sa.String(_ID),
            sa.ForeignKey(
                "responses.id", ondelete="CASCADE", name="fk_response_items_response_id_responses"
            ),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("item_id", sa.String(_ID), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("item", sa.JSON(), nullable=False),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(_ID), primary_key=True),
        sa.Column("user_id", sa.Integer(), _user_fk("conversations"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("next_position", sa.Integer(), nullable=False),
    )
    op.create_index("ix_conversations_user_id", "conversations", ["user_id"])
    op.create_index("ix_conversations_updated_at", "conversations", ["updated_at"])
    op.create_table(
        "conversation_items",
        sa.Column(
            "conversation_id",
            sa.String(_ID),
            sa.ForeignKey(
                "conversations.id",
                ondelete="CASCADE",
                name="fk_conversation_items_conversation_id_conversations",
            ),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("item_id", sa.String(_ID), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.String(_ID), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("item", sa.JSON(), nullable=False),
    )
    op.create_index(
        "ix_conversation_items_conversation_id_item_id",
        "conversation_items",
        ["conversation_id", "item_id"],
    )
    op.create_table(
        "stored_completions",
        sa.Column("user_id", sa.Integer(), _user_fk("stored_completions"), primary_key=True),
        sa.Column("id", sa.String(_ID), primary_key=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("completion", sa.JSON(), nullable=False),
    )
    op.create_index(
        "ix_stored_completions_user_id_created_at", "stored_completions", ["user_id", "created_at"]
    )
    op.create_index("ix_stored_completions_created_at", "stored_completions", ["created_at"])


def downgrade() -> None:
    op.drop_table("stored_completions")
    op.drop_table("conversation_items")
    op.drop_table("conversations")
    op.drop_table("response_items")
    op.drop_table("responses")
