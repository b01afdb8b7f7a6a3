"""Create, list and revoke API tokens from the shell: ``manage.py api_token create --phone X --name Y``.

The operator at the server acts for the account named by ``--phone``; the raw token is printed
once (last line of the output) and never stored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from cocreate.core import tokens
from cocreate.core.models import ApiToken, User


class Command(BaseCommand):
    help = "管理接口令牌：create 创建（原文只显示一次）、list 列出、revoke 撤销。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="为账号创建令牌")
        create.add_argument("--phone", required=True, help="账号手机号")
        create.add_argument("--name", required=True, help="令牌名称，如对接的系统名")
        create.add_argument("--days", type=int, default=None, help="有效天数（默认长期有效）")
        listing = sub.add_parser("list", help="列出账号的令牌")
        listing.add_argument("--phone", required=True, help="账号手机号")
        revoke = sub.add_parser("revoke", help="撤销令牌")
        revoke.add_argument("--id", type=int, required=True, help="令牌 id（见 list）")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            self._create(options["phone"], options["name"], options["days"])
        elif action == "list":
            self._list(options["phone"])
        elif action == "revoke":
            self._revoke(options["id"])

    def _user(self, phone: str) -> User:
        user = User.objects.filter(phone=phone).first()
        if user is None:
            raise CommandError(f"没有手机号为 {phone} 的账号")
        return user

    def _create(self, phone: str, name: str, days: int | None) -> None:
        user = self._user(phone)
        if days is not None and days < 1:
            raise CommandError("--days 必须是正整数")
        expires_at = timezone.now() + timedelta(days=days) if days else None
        try:
            token, raw = tokens.token_create(actor=user, user=user, name=name, expires_at=expires_at)
        except (ValidationError, PermissionDenied) as exc:
            raise CommandError("; ".join(getattr(exc, "messages", [str(exc)]))) from exc
        expiry = f"，{token.expires_at:%Y-%m-%d %H:%M} 到期" if token.expires_at else "，长期有效"
        self.stdout.write(f"已为 {user.phone} 创建令牌「{token.name}」(id {token.pk}{expiry})。原文只显示这一次：")
        self.stdout.write(raw)

    def _list(self, phone: str) -> None:
        user = self._user(phone)
        rows = ApiToken.objects.filter(user=user).order_by("-created_at", "-id")
        if not rows:
            self.stdout.write("没有令牌。")
        for row in rows:
            state = (
                "已撤销"
                if row.revoked_at
                else ("已过期" if row.expires_at and row.expires_at <= timezone.now() else "有效")
            )
            used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "从未使用"
            self.stdout.write(f"{row.pk}\t{row.prefix}…\t{row.name}\t{state}\t最近使用：{used}")

    def _revoke(self, token_id: int) -> None:
        token = ApiToken.objects.select_related("user").filter(pk=token_id).first()
        if token is None:
            raise CommandError(f"没有 id 为 {token_id} 的令牌")
        # The operator acts for the token's owner, who may always revoke their own tokens.
        tokens.token_revoke(actor=token.user, token=token)
        self.stdout.write(f"已撤销令牌 {token.pk}（{token.name}）。")
