"""``email:addr``: one message with a plain-text and an HTML part, over SMTP.

Implicit TLS (``SMTP_SSL``) or STARTTLS (``SMTP_STARTTLS``, on by default) per the settings; the
server's certificate and host name are always checked, against ``SMTP_CA_FILE`` when set. The
``Message-ID`` derives from the delivery id, so a retried send is recognisable as the same mail.
"""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from activities.delivery.errors import failed, refused
from api.core.settings import Settings
from domain.contract.delivery import DeliverInput, DeliverResult
from domain.delivery import Channel
from domain.render import email_parts


def build_message(
    settings: Settings, channel: Channel, job: DeliverInput
) -> tuple[EmailMessage, bool]:
    """The e-mail to send and whether its body was cut."""
    parts = email_parts(job.run, job.format)
    message = EmailMessage()
    message["Subject"] = parts.subject
    message["From"] = settings.smtp_from
    message["To"] = channel.target
    message["Date"] = formatdate(localtime=False)
    digest = hashlib.sha256(job.delivery_id.encode()).hexdigest()[:32]
    message["Message-ID"] = f"<{digest}@agent-scheduler>"
    message["X-Agent-Scheduler-Delivery"] = job.delivery_id
    message.set_content(parts.text, subtype="plain", charset="utf-8")
    message.add_alternative(parts.html, subtype="html", charset="utf-8")
    return message, parts.truncated


def _send(settings: Settings, message: EmailMessage) -> None:
    assert settings.smtp_host is not None
    timeout = settings.smtp_timeout_seconds
    context = ssl.create_default_context(cafile=settings.smtp_ca_file)
    smtp: smtplib.SMTP
    if settings.smtp_ssl:
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    with smtp:
        if not settings.smtp_ssl and settings.smtp_starttls:
            smtp.starttls(context=context)
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        smtp.send_message(message)


async def send(settings: Settings, channel: Channel, job: DeliverInput) -> DeliverResult:
    """Send the run by e-mail."""
    message, truncated = build_message(settings, channel, job)
    await send_message(settings, channel, message)
    return DeliverResult(messages=1, truncated=truncated)


async def send_message(settings: Settings, channel: Channel, message: EmailMessage) -> None:
    """Send one message over SMTP; raises a retryable or a final ``ApplicationError``."""
    if not settings.smtp_host:
        raise refused("e-mail delivery is not configured (AGENT_SCHEDULER_SMTP_HOST)")
    try:
        await asyncio.to_thread(_send, settings, message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if all(500 <= code < 600 for code in codes):
            raise refused(f"SMTP server refused {channel.target}: {codes}") from None
        raise failed(f"SMTP server deferred {channel.target}: {codes}") from None
    except ssl.SSLCertVerificationError as exc:
        # Retrying in the next seconds will not change the certificate: fix it, then redeliver.
        raise refused(
            f"SMTP server certificate not trusted for {settings.smtp_host}: "
            f"{str(exc.verify_message).rstrip('.')} "
            "(the CA to trust, e.g. a private one, is AGENT_SCHEDULER_SMTP_CA_FILE)"
        ) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise refused(f"SMTP login failed ({exc.smtp_code})") from None
    except smtplib.SMTPResponseException as exc:
        if 500 <= exc.smtp_code < 600:
            raise refused(f"SMTP server refused the message ({exc.smtp_code})") from None
        raise failed(f"SMTP server deferred the message ({exc.smtp_code})") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise failed(f"SMTP failed: {type(exc).__name__}: {exc}") from None
