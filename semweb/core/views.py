"""Site-wide pages: home (the user's labs and projects) and a health check."""

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


@login_required
def home(request: HttpRequest) -> HttpResponse:
    from semweb.catalogue.models import Project
    from semweb.labs.permissions import visible

    projects = visible(request.user, Project.objects.select_related("lab"))
    labs = request.user.labs.all() if not request.user.is_superuser else None
    return render(request, "core/home.html", {"projects": projects, "labs": labs})


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
