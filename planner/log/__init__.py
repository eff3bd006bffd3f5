"""The incident log: an append-only, hash-chained record on SQLite or PostgreSQL, its schema,
verification and the API keys stored beside it.

It may import only the top-level helpers; it knows nothing of dispatch, the centre or HTTP.
"""
