"""Moved to ``actors.hosting``; this re-export stays until nothing imports the old path."""

from actors.hosting import dead_gateways, every

__all__ = ["dead_gateways", "every"]
