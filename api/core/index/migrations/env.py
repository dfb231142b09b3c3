"""Alembic environment: runs the index migrations on the URL handed over by ``migrate()``."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from sqlmodel import SQLModel

from api.core.index import models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
url: str = config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or ""

# pg_advisory_xact_lock key of the index migrations (any fixed bigint; "agsc" in ASCII).
MIGRATION_LOCK_KEY = 0x61677363


def run_migrations() -> None:
    """Run the migrations online, in one transaction."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=SQLModel.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Processes migrating at once take turns; Alembic reads the current version
                # after this, so a process that waited finds the others' work and does none.
                # The lock ends with the transaction, whatever happens.
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            context.run_migrations()
    engine.dispose()


run_migrations()
