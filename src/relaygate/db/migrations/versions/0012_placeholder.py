"""Placeholder for revision 0012, written in parallel on another branch.

This file only keeps the chain 0011 → 0012 → 0013 runnable on this branch; the real 0012
replaces it when the branches are merged (drop this file then).

Revision ID: 0012
Revises: 0011
"""

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
