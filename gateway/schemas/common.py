"""What every schema shares: string and id rules, the REST input base and the Socket.IO payload base."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from actors.domain.errors import DomainError


def printable(value: str) -> str:
    if any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\n\t" for ch in value):
        raise ValueError("must not contain control characters")
    return value


def one_line(value: str) -> str:
    if "\n" in value or "\t" in value:
        raise ValueError("must be a single line")
    return value


DisplayName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50),
    AfterValidator(printable),
    AfterValidator(one_line),
]
Bio = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(printable)]
# Every integer a client sends ends up in a PostgreSQL bigint, a BSON int64 or a Ray actor's comparison:
# one bound for all of them, so 2**70 is answered ``invalid`` instead of overflowing a driver (a 500).
INT64_MAX = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=INT64_MAX)]  # a database id (user, club, room, event, …)
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]  # a sequence number or revision, 0 = none yet

# Upper bound keeps the cost of hashing an attacker's "password" bounded.
Password = Annotated[str, StringConstraints(min_length=10, max_length=256)]


class Input(BaseModel):
    """Every request payload: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class SocketPayload(BaseModel):
    """Every Socket.IO payload: strict (a string where a number belongs is malformed, not coerced)."""

    model_config = ConfigDict(extra="forbid", strict=True)


def storable(data: Any) -> Any:
    """``data`` when every string in it can be stored, else ``invalid``: JSON escapes can make lone
    surrogates (``"\\ud800"``, which no UTF-8 encoder takes) and NUL characters (which PostgreSQL text
    refuses); caught here once, before they reach a driver deep in some action as a 500."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            texts = (item,)
        elif isinstance(item, dict):
            texts = item.keys()
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
            continue
        else:
            continue
        for text in texts:
            if "\x00" in text or not _encodable(text):
                raise DomainError("invalid", "strings must be valid Unicode without NUL characters")
    return data


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
