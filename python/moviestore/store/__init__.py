"""PostgreSQL: the schema (versioned SQL migrations) and the adapters that read and write it."""
