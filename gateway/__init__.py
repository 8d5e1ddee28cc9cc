"""Transport: aiohttp REST + python-socketio, pydantic schemas, auth, the ``clubhub`` CLI."""
