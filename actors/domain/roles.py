"""Who may do what in a club: the one place role checks live.

Roles rank owner > moderator > member; an action names the lowest role allowed to take it. Room rules
(``actors.domain.room``) and club actions (the gateway) both ask here, so a role change is one edit.
"""

from __future__ import annotations

from .errors import DomainError

RANK: dict[str, int] = {"member": 1, "moderator": 2, "owner": 3}

# action -> lowest role allowed
ACTIONS: dict[str, str] = {
    "read": "member",
    "send": "member",
    "rsvp": "member",
    "leave": "member",
    "post_reel": "member",
    "create_invite": "moderator",
    "revoke_invite": "moderator",
    "create_room": "moderator",
    "set_slow_mode": "moderator",
    "delete_any_message": "moderator",
    "delete_any_reel": "moderator",
    "timeout": "moderator",
    "ban": "moderator",
    "view_audit": "moderator",
    "create_event": "moderator",
    "export_live_summary": "moderator",  # besides the event's host
    "view_reports": "moderator",
    "resolve_report": "moderator",
    "view_automod": "moderator",
    "set_automod": "moderator",
    "set_role": "owner",
    "transfer_ownership": "owner",
}


def can(role: str | None, action: str) -> bool:
    """``role`` None means not a member at all."""
    if action not in ACTIONS:
        raise KeyError(f"unknown action {action!r}")
    return role is not None and RANK[role] >= RANK[ACTIONS[action]]


def can_act_on(actor_role: str, target_role: str | None) -> bool:
    """Moderation (timeout, ban, role change) only reaches members ranked below the actor."""
    return target_role is None or RANK[actor_role] > RANK[target_role]


def require(role: str | None, action: str) -> None:
    if role is None:
        raise DomainError("forbidden", "you are not a member of this club")
    if not can(role, action):
        raise DomainError("forbidden", f"{action.replace('_', ' ')} needs the {ACTIONS[action]} role")


def is_moderator(role: str | None) -> bool:
    """Moderator or above: exempt from slow mode, may delete any message in the club's rooms."""
    return role is not None and RANK.get(role, 0) >= RANK["moderator"]
