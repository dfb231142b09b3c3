"""Metadata index: SQLModel tables, queries and Alembic migrations."""
