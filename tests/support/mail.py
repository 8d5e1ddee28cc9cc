"""The test session's mailbox: a real SMTP server (aiosmtpd) collects what the gateway sends."""

from __future__ import annotations

import email
import email.policy
import re

from support.secret_audit import remember
from support.wait import wait_for


class Inbox:
    """Mail received by a real SMTP server (aiosmtpd) running for the test session."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(msg)
        return "250 Message accepted for delivery"

    async def wait_for(self, to: str, count: int = 1, timeout: float = 10.0):
        async def arrived():
            mine = [m for m in self.messages if m["To"] == to]
            return mine if len(mine) >= count else None

        return (await wait_for(arrived, timeout=timeout))[-1]

    @staticmethod
    def token_of(message) -> str:
        match = re.search(r"/verify\?token=([A-Za-z0-9_-]+)", message.get_content())
        assert match, message.get_content()
        remember(match.group(1))
        return match.group(1)
