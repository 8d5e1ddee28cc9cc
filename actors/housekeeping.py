"""Moved to ``actors.hosting``; this re-export stays until the gateway imports the new path."""

from actors.hosting import GATEWAY_KEY, dead_gateways, every

__all__ = ["GATEWAY_KEY", "dead_gateways", "every"]
