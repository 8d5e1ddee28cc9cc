"""The Locust personas of ClubHoloHub's load test (``loadtest/locustfile.py`` runs them)."""

from .browse import Browser
from .chat import ChatMember
from .live import Audience, LiveHost

__all__ = ["Audience", "Browser", "ChatMember", "LiveHost"]
