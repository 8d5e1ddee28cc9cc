"""Moved to ``actors.domain.session``; this re-export stays until the gateway and tests import the new path."""

from actors.domain.session import Session, TokenBucket

__all__ = ["Session", "TokenBucket"]
