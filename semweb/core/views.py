"""Site-wide pages: home (the user's labs and their projects) and a health check."""

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from semweb.catalogue import selectors


@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = selectors.projects_visible(request.user)
    can_create = selectors.labs_for_project_create(request.user).exists()
    return render(request, "core/home.html", {"projects": projects, "can_create": can_create})


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
