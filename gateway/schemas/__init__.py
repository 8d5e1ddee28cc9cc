"""Pydantic schemas of the REST API and Socket.IO payloads (the contract's shapes), one module per domain."""
