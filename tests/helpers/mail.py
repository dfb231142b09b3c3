"""An SMTP server on loopback (aiosmtpd) that keeps every message it receives."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from api.core.settings import Settings


class Mailbox:
    """An aiosmtpd handler keeping every message it receives, and how its session was secured."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        # Per message: the TLS version it came over (None: plain) and whether through STARTTLS.
        self.tls: list[tuple[str | None, bool]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        tls = server.transport.get_extra_info("ssl_object")
        self.tls.append((tls.version() if tls else None, session.ssl is not None))
        return "250 OK"


@contextmanager
def smtp_server(**options: Any) -> Iterator[tuple[Mailbox, int]]:
    """An aiosmtpd server on a free loopback port; ``options`` go to its ``Controller``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def with_channels(
    settings: Settings, *, agent_url: str, slack_url: str, smtp_port: int, agents: Path
) -> Settings:
    """``settings`` with an http agent ``web`` at ``agent_url``, Slack at ``slack_url`` and the
    loopback SMTP server on ``smtp_port`` (plain, 5 s timeouts): what delivery tests send to."""
    agents.write_text(f'[agents.web]\nkind = "http"\nurl = "{agent_url}/agent"\n')
    settings.agents_file = agents
    settings.slack_token = "xoxb-test-token"
    settings.slack_api_url = slack_url + "/api"
    settings.smtp_host = "127.0.0.1"
    settings.smtp_port = smtp_port
    settings.smtp_starttls = False
    settings.delivery_timeout_seconds = 5
    return settings
