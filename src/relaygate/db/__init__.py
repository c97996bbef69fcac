"""Database access: the async engine, the declarative base and the migrations."""
