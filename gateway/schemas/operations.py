"""Operations: health and readiness."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class HealthOut(BaseModel):
    status: Literal["ok"]


class ModelStatus(BaseModel):
    """The feed's model: the version ranker actors serve, the newest trained one, and whether that one
    has waited longer than ``CLUBHUB_MODEL_STALE_S`` to be served (the feed still answers meanwhile)."""

    served: int | None
    newest: int | None
    waiting_s: float
    stale: bool


class ReadyOut(BaseModel):
    status: Literal["ready"]
    services: dict[str, str]
    model: ModelStatus | None = None
