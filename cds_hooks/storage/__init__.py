"""Persistence: SQLAlchemy models (``models``) and database access (``db``)."""
