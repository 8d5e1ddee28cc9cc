"""The email digest (issue 19, must-show 5): mentions, replies and DMs still unread after
``CLUBHUB_DIGEST_AFTER_S`` go out in one mail per user and period over real SMTP (the session's server), never
twice; the mail's one-click unsubscribe link (a signed token) turns the digest off, a tampered one is refused.

The notifications are inserted through the ORM (the notifier makes them in production); the worker runs its
passes directly, with a one-minute ``digest_after_s`` and the notifications dated two minutes back, so the
session gateway's own worker (900 s) never takes them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from support.chat import make_club_room
from support.members import Api, client_session, make_member
from support.secret_audit import remember

from gateway.actions.digest import UNSUBSCRIBE_PATH, DigestWorker, message_link
from gateway.http.keys import ACCOUNTS
from storage.models import Club, Notification

AFTER_S = 60


def worker_for(gateway, settings, mailer=None) -> DigestWorker:
    accounts = gateway.app[ACCOUNTS]
    return DigestWorker(
        settings.model_copy(update={"digest_after_s": AFTER_S}),
        mailer or accounts.mailer,
        accounts.access.ring,
    )


async def notify(
    user_id: int, kind: str = "mention", *, room=None, seq=None, text="", age_s=2 * AFTER_S, **extra
):
    n = await Notification.create(
        user_id=user_id,
        kind=kind,
        cause=f"test:{uuid.uuid4().hex}",
        room_id=room.id if room else None,
        seq=seq,
        actor_id=extra.pop("actor_id", None),
        actor_name=extra.pop("actor_name", "Bob"),
        text=text,
        **extra,
    )
    await Notification.filter(id=n.id).update(created_at=datetime.now(UTC) - timedelta(seconds=age_s))
    return n


def mails_to(smtp, address: str) -> list:
    """The digests mailed to ``address`` (its verification mail aside)."""
    return [m for m in smtp.messages if m["To"] == address and m["List-Unsubscribe"] is not None]


def unsubscribe_target(mail) -> str:
    """The path and query of the mail's unsubscribe link (its origin is the public URL, not the test's port)."""
    header = str(mail["List-Unsubscribe"])
    assert header.startswith("<") and header.endswith(">"), header
    url = header[1:-1]
    assert url in mail.get_content()
    parts = urlsplit(url)
    assert parts.path == UNSUBSCRIBE_PATH
    remember(parts.query.removeprefix("token="))
    return f"{parts.path}?{parts.query}"


async def test_one_digest_per_user_never_twice_and_unsubscribe(gateway, settings, smtp):
    ada, bob, carol, dave = [
        await make_member(gateway.url, smtp, name) for name in ("Ada", "Bob", "Carol", "Dave")
    ]
    room = await make_club_room(bob.user_id, [ada.user_id, carol.user_id, dave.user_id])
    club = await Club.get(id=room.club_id)
    m1 = await notify(ada.user_id, room=room, seq=3, text="hey @Ada, look at this", actor_id=bob.user_id)
    m2 = await notify(ada.user_id, "reply", room=room, seq=9, text="replying to you, Ada")
    dm = await notify(ada.user_id, "dm", text="a direct word")
    read = await notify(ada.user_id, room=room, seq=4, text="already seen", read_at=datetime.now(UTC))
    fresh = await notify(ada.user_id, room=room, seq=5, text="too fresh", age_s=1)
    other_kind = await notify(ada.user_id, "event_reminder", text="starts soon")
    c1 = await notify(carol.user_id, room=room, seq=6, text="carol, you there?")
    async with client_session(gateway.url) as http:
        await Api(http, dave).call("PATCH", "/me", json={"email_digest": False}, expect=200)
    await notify(dave.user_id, room=room, seq=7, text="dave opted out")

    worker = worker_for(gateway, settings)
    done = await worker.run_once()
    assert {ada.user_id, carol.user_id} <= set(done.users) and dave.user_id not in done.users
    mine = mails_to(smtp, ada.email)
    assert len(mine) == 1
    mail = mine[0]
    body = mail.get_content()
    assert mail["Subject"] == "3 unread notifications on ClubHoloHub"
    for wanted in (
        "hey @Ada, look at this",
        "replying to you, Ada",
        "a direct word",
        "Bob mentioned you in #general",
    ):
        assert wanted in body, body
    for unwanted in ("already seen", "too fresh", "starts soon"):
        assert unwanted not in body
    assert message_link(settings.base_url, room.id, 3, room.club_id) in body
    assert f"{settings.base_url}/clubs/{room.club_id}/rooms/{room.id}?seq=9" in body
    assert club.name in body
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (
        len(mails_to(smtp, carol.email)) == 1
        and "carol, you there?" in mails_to(smtp, carol.email)[0].get_content()
    )
    assert not [m for m in mails_to(smtp, dave.email) if "dave opted out" in m.get_content()]
    digested = set(
        await Notification.filter(user_id=ada.user_id, digested_at__isnull=False).values_list("id", flat=True)
    )
    assert digested == {m1.id, m2.id, dm.id}
    assert (await Notification.get(id=c1.id)).digested_at is not None
    assert read.id not in digested and fresh.id not in digested and other_kind.id not in digested

    # Never twice: a second pass (this worker or another gateway's) sends nothing.
    again = await asyncio.gather(worker.run_once(), worker_for(gateway, settings).run_once())
    assert not ({ada.user_id, carol.user_id} & {u for r in again for u in r.users})
    assert len(mails_to(smtp, ada.email)) == 1

    # One mail per period: the fresh one, due now, waits until the last digest is a period old.
    await Notification.filter(id=fresh.id).update(
        created_at=datetime.now(UTC) - timedelta(seconds=2 * AFTER_S)
    )
    assert ada.user_id not in (await worker.run_once()).users
    later = await worker.run_once(now=datetime.now(UTC) + timedelta(seconds=AFTER_S + 1))
    assert ada.user_id in later.users
    second = mails_to(smtp, ada.email)
    assert len(second) == 2 and "too fresh" in second[1].get_content()
    assert "hey @Ada" not in second[1].get_content()
    assert second[1]["Subject"] == f"Bob mentioned you in #general ({club.name})"

    target = unsubscribe_target(mail)
    async with client_session(gateway.url) as http:
        # A tampered token, a token of another kind, no token: refused with the contract's error body.
        path, _, token = target.partition("?token=")
        head, payload, signature = token.split(".")
        forged_sig = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
        for bad in (f"{head}.{payload}.{forged_sig}", ada.token, "nonsense"):
            for method in ("GET", "POST"):
                resp = await http.request(method, path, params={"token": bad})
                assert resp.status == 422, (method, bad, resp.status)
                assert (await resp.json())["error"]["code"] == "invalid"
        resp = await http.get(path)
        assert resp.status == 422
        status, me = await Api(http, ada).call("GET", "/me", expect=200)
        assert me["email_digest"] is True

        # The link (GET, as clicked in the mail) turns the digest off and says so.
        resp = await http.get(target)
        assert resp.status == 200 and resp.content_type == "text/html"
        assert "unsubscribed" in (await resp.text()).lower()
        status, me = await Api(http, ada).call("GET", "/me", expect=200)
        assert me["email_digest"] is False
        resp = await http.get(target)  # idempotent
        assert resp.status == 200

        # RFC 8058 one-click: the mail client POSTs "List-Unsubscribe=One-Click" to the same URL.
        carol_target = unsubscribe_target(mails_to(smtp, carol.email)[0])
        resp = await http.post(carol_target, data={"List-Unsubscribe": "One-Click"})
        assert resp.status == 200, await resp.text()
        status, me = await Api(http, carol).call("GET", "/me", expect=200)
        assert me["email_digest"] is False

        # Nothing more is mailed to them, however much is due.
        await notify(ada.user_id, room=room, seq=11, text="after unsubscribing")
        await notify(carol.user_id, room=room, seq=12, text="after unsubscribing")
        far = await worker.run_once(now=datetime.now(UTC) + timedelta(seconds=10 * AFTER_S))
        assert not ({ada.user_id, carol.user_id} & set(far.users))
        assert len(mails_to(smtp, ada.email)) == 2 and len(mails_to(smtp, carol.email)) == 1

        # Settings turn it back on.
        status, me = await Api(http, ada).call("PATCH", "/me", json={"email_digest": True}, expect=200)
        assert me["email_digest"] is True


class BrokenMailer:
    def __init__(self) -> None:
        self.tried = 0

    async def send(self, mail) -> None:
        self.tried += 1
        raise ConnectionRefusedError("the mail server is down")


async def test_a_failed_send_puts_the_claim_back_and_two_gateways_send_once(gateway, settings, smtp):
    erin, bob = await make_member(gateway.url, smtp, "Erin"), await make_member(gateway.url, smtp, "Bob")
    room = await make_club_room(bob.user_id, [erin.user_id])
    n = await notify(erin.user_id, room=room, seq=1, text="while the mail server is down")

    broken = BrokenMailer()
    done = await worker_for(gateway, settings, broken).run_once()
    assert done.failed == 1 and broken.tried == 1 and erin.user_id not in done.users
    assert (await Notification.get(id=n.id)).digested_at is None  # the claim is back

    # Two gateways at once: one mail.
    rounds = await asyncio.gather(*(worker_for(gateway, settings).run_once() for _ in range(3)))
    assert sum(r.users.count(erin.user_id) for r in rounds) == 1
    mails = [m for m in mails_to(smtp, erin.email) if "while the mail server is down" in m.get_content()]
    assert len(mails) == 1
