"""Writes of the API app: personal access tokens."""

from __future__ import annotations

from django.db import transaction
from rest_framework.authtoken.models import Token

from semweb.audit.services import audit_record


def token_regenerate(*, user):
    """Replace the user's token with a fresh one (the old one stops working at once)."""

    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        token = Token.objects.create(user=user)
        audit_record(actor=user, verb="token.create", target=user)
    return token


def token_revoke(*, user) -> None:
    with transaction.atomic():
        if Token.objects.filter(user=user).delete()[0]:
            audit_record(actor=user, verb="token.revoke", target=user)
