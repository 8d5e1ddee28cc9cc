"""``DomainError``: the one refusal type below the transport.

Every layer under ``gateway/http`` and ``gateway/socket`` refuses by raising it with one of the contract's
error codes; the HTTP transport maps the code to a status and the error body, the Socket.IO transport to
the ``{ok: false, error}`` ack. It lives at the bottom of the actor layer because pure domain classes raise
it too, and it pickles, so an actor can hand one back through Ray.
"""

from __future__ import annotations

# The contract's error codes, each with the HTTP status it maps to (a transport concern kept next to the
# codes so a new code cannot be added without one).
CODES: dict[str, int] = {
    "invalid": 422,
    "unauthorized": 401,
    "forbidden": 403,
    "email_unverified": 403,
    "not_found": 404,
    "conflict": 409,
    "rate_limited": 429,
    "too_large": 413,
    "unavailable": 503,
    "internal": 500,
}


class DomainError(Exception):
    """A refusal: ``code`` is one of ``CODES``; ``retry_after`` (seconds) goes with ``rate_limited``."""

    def __init__(self, code: str, message: str, *, retry_after: float | None = None) -> None:
        if code not in CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(code, message, retry_after)
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def __reduce__(self):
        return (_rebuild, (self.code, self.message, self.retry_after))

    def as_dict(self) -> dict:
        """The contract's error object ``{code, message}``."""
        return {"code": self.code, "message": self.message}

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"DomainError({self.code!r}, {self.message!r})"


def _rebuild(code: str, message: str, retry_after: float | None) -> DomainError:
    return DomainError(code, message, retry_after=retry_after)
