"""Token access to the file downloads the API hands out.

The API answers with URLs of plain Django views (an export's zip, a micrograph's original and
preview, a run's report, CSV and summary). A script that holds an API token must be able to
fetch them with the same ``Authorization: Token …`` header instead of a browser session, so
these views accept either; permissions are still decided by ``get_for_user`` inside the view.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed


def login_or_token_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """`login_required`, but a request carrying an API token is authenticated by it (a wrong
    token is a 401, never a redirect to the login page a script cannot follow)."""
    session_view = login_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated and get_authorization_header(request):
            try:
                result = TokenAuthentication().authenticate(request)
            except AuthenticationFailed as exc:
                return JsonResponse({"detail": str(exc.detail)}, status=401)
            if result is not None:
                request.user = result[0]
                return view(request, *args, **kwargs)
        return session_view(request, *args, **kwargs)

    return wrapper
