"""Moved to ``actors.domain.live_session``; this re-export stays until the tests import the new path."""

from actors.domain.live_session import (
    MAX_OPEN_QUESTIONS_PER_MEMBER,
    MAX_PIN,
    MAX_POLL_OPTIONS,
    MAX_POLLS,
    MAX_QUESTION,
    MAX_QUESTIONS,
    LiveSession,
    Poll,
    Question,
)

__all__ = [
    "MAX_OPEN_QUESTIONS_PER_MEMBER",
    "MAX_PIN",
    "MAX_POLL_OPTIONS",
    "MAX_POLLS",
    "MAX_QUESTION",
    "MAX_QUESTIONS",
    "LiveSession",
    "Poll",
    "Question",
]
