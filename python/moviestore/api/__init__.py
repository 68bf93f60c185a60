"""The catalog API: Robyn routes answering from memory, then Redis, then indexed PostgreSQL."""
