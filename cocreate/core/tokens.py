"""API token services: create, revoke and check per-user tokens; only a SHA-256 is ever stored.

A raw token is shown once, when it is created. It looks like ``cc_<43 url-safe characters>``;
the first eight characters are kept as ``prefix`` so a user can tell their tokens apart.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cocreate.core import access
from cocreate.core.models import ApiToken, User

TOKEN_PREFIX = "cc_"  # noqa: S105 (a marker, not a secret)
# A user rarely needs more than a handful of integrations; the cap stops a runaway script.
MAX_ACTIVE_TOKENS_PER_USER = 20
MAX_LIFETIME = timedelta(days=3650)
# Writing last_used_at on every request would turn each read into a write; once a minute is enough.
LAST_USED_RESOLUTION_SECONDS = 60


def _new_raw_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_list(*, user: Any) -> QuerySet[ApiToken]:
    """The caller's own tokens, newest first (active and revoked)."""
    return ApiToken.objects.visible_to(user).order_by("-created_at", "-id")


def active_tokens(*, user: Any) -> QuerySet[ApiToken]:
    """Tokens of ``user`` that still authenticate now."""
    now = timezone.now()
    return ApiToken.objects.filter(user_id=user.pk, revoked_at__isnull=True).exclude(expires_at__lte=now)


@transaction.atomic
def token_create(*, actor: Any, user: User, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Issues a token for ``user`` (the actor's own, or any account for a superuser); returns (row, raw)."""
    scope = access.scope_of(actor)
    if not scope.is_authenticated or (scope.user_id != user.pk and not scope.is_superuser):
        raise PermissionDenied(_("只能为自己的账号创建令牌"))
    if not user.is_active:
        raise ValidationError({"user": _("账号已停用")})
    name = (name or "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = _("请填写令牌名称")
    elif len(name) > 60:
        errors["name"] = _("令牌名称不能超过60个字符")
    now = timezone.now()
    if expires_at is not None:
        if timezone.is_naive(expires_at):
            expires_at = timezone.make_aware(expires_at)
        if expires_at <= now:
            errors["expires_at"] = _("到期时间必须晚于现在")
        elif expires_at - now > MAX_LIFETIME:
            errors["expires_at"] = _("令牌有效期不能超过十年")
    if errors:
        raise ValidationError(errors)
    # Lock the account row so two concurrent requests cannot both slip under the cap.
    User.objects.select_for_update().filter(pk=user.pk).first()
    if active_tokens(user=user).count() >= MAX_ACTIVE_TOKENS_PER_USER:
        raise ValidationError({"name": _("有效令牌数量已达上限，请先撤销不用的令牌")})
    raw = _new_raw_token()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[:8],
        token_hash=ApiToken.hash(raw),
        expires_at=expires_at,
    )
    return token, raw


@transaction.atomic
def token_revoke(*, actor: Any, token: ApiToken) -> ApiToken:
    """Revokes a token at once; revoking twice keeps the first time."""
    if not access.can(actor, access.DELETE, token):
        raise PermissionDenied(_("无权撤销此令牌"))
    locked = ApiToken.objects.select_for_update().get(pk=token.pk)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
    return locked


def token_authenticate(raw: str) -> User | None:
    """The active account a raw token belongs to, or None (unknown, revoked, expired, inactive)."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    now = timezone.now()
    row = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=ApiToken.hash(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user
