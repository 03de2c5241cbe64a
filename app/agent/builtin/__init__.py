"""The built-in tools: ``calculate``, ``search_conversations`` and ``fetch_url``."""
