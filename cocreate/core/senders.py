"""Pluggable senders for the outbox: e-mail through Django's mail, SMS through a console or HTTP backend.

A sender either returns (the message left this machine) or raises; retries and back-off are the
outbox's business (``cocreate.core.jobs``), never the sender's.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import quote_plus

import requests
from django.conf import settings
from django.core.mail import send_mail

from cocreate.core.models import Channel, OutboxMessage

logger = logging.getLogger("cocreate.senders")


class SendError(Exception):
    """A message could not be handed over; the outbox will try again later."""


def send_email(*, recipient: str, subject: str, body: str) -> None:
    """Sends one e-mail through the configured Django mail backend (SMTP in production)."""
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient], fail_silently=False)


def _escape(value: str, content_type: str) -> str:
    # The body template is written by an operator; a resident's text must never break out of it.
    if "x-www-form-urlencoded" in content_type:
        return quote_plus(value)
    return json.dumps(value, ensure_ascii=False)[1:-1]


def gateway_request_body(*, phone: str, text: str) -> str:
    """The SMS gateway's request body: SMS_GATEWAY_BODY with the escaped phone and text filled in."""
    content_type = settings.SMS_GATEWAY_CONTENT_TYPE
    return str(settings.SMS_GATEWAY_BODY).format(phone=_escape(phone, content_type), text=_escape(text, content_type))


def send_sms(*, phone: str, text: str) -> None:
    """Sends one SMS through SMS_BACKEND: "console" logs it, "http" posts it to the gateway."""
    backend = settings.SMS_BACKEND
    if backend == "console":
        logger.info("SMS to %s: %s", phone, text)
        return
    if backend != "http":
        raise SendError(f"unknown SMS_BACKEND {backend!r}")
    if not settings.SMS_GATEWAY_URL:
        raise SendError("SMS_GATEWAY_URL is not set")
    headers = {"Content-Type": settings.SMS_GATEWAY_CONTENT_TYPE}
    headers.update(json.loads(settings.SMS_GATEWAY_HEADERS or "{}"))
    try:
        response = requests.request(
            settings.SMS_GATEWAY_METHOD,
            settings.SMS_GATEWAY_URL,
            data=gateway_request_body(phone=phone, text=text).encode("utf-8"),
            headers=headers,
            timeout=settings.SMS_GATEWAY_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise SendError(f"SMS gateway unreachable: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise SendError(f"SMS gateway answered {response.status_code}: {response.text[:200]}")


def deliver(message: OutboxMessage) -> None:
    """Hands one outbox message to the sender of its channel; raises when it could not."""
    if message.channel == Channel.EMAIL:
        send_email(recipient=message.recipient, subject=message.subject, body=message.body)
    elif message.channel == Channel.SMS:
        send_sms(phone=message.recipient, text=message.body)
    else:
        raise SendError(f"unknown channel {message.channel!r}")
