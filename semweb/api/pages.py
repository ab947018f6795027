"""HTML pages of the API: the user's token and a self-contained docs page (no CDN assets)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token

from semweb.api.services import token_regenerate, token_revoke


@login_required
@require_http_methods(["GET", "POST"])
def token_page(request: HttpRequest) -> HttpResponse:
    """Show whether the user has a token; POST creates a new one (shown once) or revokes it."""

    new_key = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            token_revoke(user=request.user)
            messages.success(request, "Your API token was revoked.")
            return redirect("api_token")
        new_key = token_regenerate(user=request.user).key
    token = Token.objects.filter(user=request.user).first()
    return render(request, "api/token.html", {"has_token": token is not None, "new_key": new_key})


@login_required
def docs_page(request: HttpRequest) -> HttpResponse:
    """Endpoints and their parameters, rendered server-side from the OpenAPI schema."""

    schema = SchemaGenerator().get_schema(request=None, public=True)
    endpoints = []
    for path, operations in schema.get("paths", {}).items():
        for method, op in operations.items():
            params = [p.get("name") for p in op.get("parameters", []) if p.get("in") == "query"]
            endpoints.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": (op.get("description") or "").strip(),
                    "query": params,
                }
            )
    return render(request, "api/docs.html", {"endpoints": endpoints, "info": schema["info"]})
