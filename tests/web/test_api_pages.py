"""The token page creates (shows once), replaces and revokes a user's token; the schema and the
docs page list the v1 endpoints and load nothing from another host."""

from __future__ import annotations

import re

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def test_token_is_shown_once_and_works(client, bob):
    client.force_login(bob)
    response = client.post("/api/token/", {"action": "create"})
    key = re.search(rb'data-testid="token-key">([0-9a-f]{40})<', response.content).group(1).decode()
    assert Token.objects.get(user=bob).key == key
    assert b"token-key" not in client.get("/api/token/").content
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/labs/").status_code == 200


def test_replacing_the_token_disables_the_old_one(client, bob):
    client.force_login(bob)
    client.post("/api/token/", {"action": "create"})
    old = Token.objects.get(user=bob).key
    client.post("/api/token/", {"action": "create"})
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    response = api.get("/api/v1/labs/")
    assert (response.status_code, response.json()) == (403, {"detail": "Invalid token."})


def test_revoke_removes_the_token(client, bob):
    client.force_login(bob)
    client.post("/api/token/", {"action": "create"})
    assert client.post("/api/token/", {"action": "revoke"}).status_code == 302
    assert not Token.objects.filter(user=bob).exists()


def test_schema_lists_the_v1_endpoints(client, bob):
    assert client.get("/api/schema/?format=json").status_code == 403  # signed-in users only
    client.force_login(bob)
    schema = client.get("/api/schema/?format=json").json()
    paths = set(schema["paths"])
    for path in (
        "/api/v1/micrographs/",
        "/api/v1/micrographs/{id}/analyze",
        "/api/v1/runs/{id}",
        "/api/v1/runs/{id}/particles",
        "/api/v1/runs/{id}/review",
        "/api/v1/datasets/",
        "/api/v1/datasets/{id}/exports",
        "/api/v1/exports/{id}",
    ):
        assert path in paths, path


def test_docs_page_uses_no_external_assets(client, bob):
    client.force_login(bob)
    body = client.get("/api/docs/").content.decode()
    assert "/api/v1/runs/{id}/particles" in body
    assert not re.search(r'(src|href)="(https?:)?//', body)
