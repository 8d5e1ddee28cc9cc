"""Outgoing mail: real SMTP (aiosmtplib) when ``CLUBHUB_SMTP_URL`` is set, else the dev mailbox.

The dev mailbox keeps the last mails per address in Redis (so every gateway sees them) and is read
through ``GET /api/v1/dev/mailbox`` — a route that exists only when ``CLUBHUB_ENV=dev`` and answers only
loopback clients. A mail holds a verification link (a credential): it is never logged, and it leaves
Redis when the link expires.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib
import redis.asyncio as aioredis

from storage import keys
from storage.settings import Settings

log = logging.getLogger(__name__)

DEV_MAILBOX_KEEP = 20


@dataclass
class Mail:
    to: str
    subject: str
    body: str
    link: str | None = None
    sent_at: float = 0.0
    # Extra headers (the digest's List-Unsubscribe and List-Unsubscribe-Post, RFC 8058).
    headers: dict[str, str] = field(default_factory=dict)


class Mailer:
    def __init__(self, settings: Settings, redis: aioredis.Redis) -> None:
        self.settings = settings
        self.redis = redis

    async def send(self, mail: Mail) -> None:
        mail.sent_at = time.time()
        if self.settings.smtp_url:
            await self._send_smtp(mail)
        else:
            key = keys.dev_mailbox(mail.to)
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.lpush(key, json.dumps(asdict(mail)))
                pipe.ltrim(key, 0, DEV_MAILBOX_KEEP - 1)
                # A mail is of no use after its link expires: the newest one keeps the list alive that long.
                pipe.expire(key, self.settings.verify_token_ttl_s)
                await pipe.execute()
            log.info("dev mailbox: mail stored", extra={"to": mail.to, "subject": mail.subject})

    async def _send_smtp(self, mail: Mail) -> None:
        url = urlsplit(self.settings.smtp_url)
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = mail.to
        message["Subject"] = mail.subject
        for name, value in mail.headers.items():
            message[name] = value
        message.set_content(mail.body)
        await aiosmtplib.send(
            message,
            hostname=str(url.hostname or "127.0.0.1"),
            port=url.port or (465 if url.scheme == "smtps" else 25),
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            use_tls=url.scheme == "smtps",
            start_tls=True if url.scheme == "smtp+starttls" else None if url.scheme == "smtp" else False,
            timeout=15,
        )
        log.info("mail sent", extra={"to": mail.to, "subject": mail.subject})

    async def dev_mailbox(self, email: str) -> list[dict]:
        raws: list = await self.redis.lrange(keys.dev_mailbox(email), 0, -1)  # type: ignore[misc]
        return [json.loads(raw) for raw in raws]
