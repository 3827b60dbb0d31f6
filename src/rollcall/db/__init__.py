"""Database access: the embedded server, the asyncpg pool and the Alembic migrations."""
