"""Browser sessions kept on the server, so that one can be ended before its cookie expires.

Until now a session was only a signed cookie: a copied cookie kept working after the user
signed out, for up to ``session_hours``. Each session is now a row (the SHA-256 of the
random id its cookie carries), ended by logout, a password or role change, deactivation or
an administrator. Cookies signed before this revision name no session and stop working:
everyone signs in once more.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE user_sessions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id_hash varchar(64) NOT NULL UNIQUE,
    client varchar(64),
    started_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ended_at timestamptz,
    end_reason varchar(32)
)""")
    op.execute("CREATE INDEX ix_user_sessions_user_id ON user_sessions (user_id)")


def downgrade() -> None:
    op.execute("DROP TABLE user_sessions")
