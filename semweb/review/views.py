"""Review actions on a run (forms posting back to the run page) and the supervisors' queue."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from semweb.analyses.models import AnalysisRun
from semweb.analyses.selectors import runs_awaiting_review
from semweb.core.params import parse_int
from semweb.labs.permissions import Access, get_for_user
from semweb.review import services


def _int_or_none(value: str | None, name: str) -> int | None:
    """A typed number ("#3" or "3"), bounded (`core.params`); blank is None. Called inside
    `_act` so a bad value is reported like any refused action."""
    value = (value or "").strip().lstrip("#")
    return parse_int(value, name=name) if value else None


def _act(request: HttpRequest, pk: int, need: Access, action, success: str) -> HttpResponse:
    run, _ = get_for_user(request.user, AnalysisRun, pk, need=need)
    try:
        action(run)
    except ValidationError as exc:  # TransitionError included
        messages.error(request, " ".join(exc.messages))
        response = redirect("analyses:run", run.pk)
        response.status_code = 303
        return response
    messages.success(request, success)
    return redirect("analyses:run", run.pk)


@login_required
@require_POST
def submit(request: HttpRequest, pk: int) -> HttpResponse:
    body = request.POST.get("body", "")
    return _act(
        request,
        pk,
        Access.ANNOTATE,
        lambda run: services.run_submit(run=run, user=request.user, body=body),
        "Submitted for review.",
    )


@login_required
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    body = request.POST.get("body", "")
    return _act(
        request,
        pk,
        Access.SUPERVISOR,
        lambda run: services.run_approve(
            run=run,
            user=request.user,
            revision=_int_or_none(request.POST.get("revision"), "revision"),
            body=body,
        ),
        "Approved: this analysis is now read-only.",
    )


@login_required
@require_POST
def request_changes(request: HttpRequest, pk: int) -> HttpResponse:
    body = request.POST.get("body", "")
    return _act(
        request,
        pk,
        Access.SUPERVISOR,
        lambda run: services.run_request_changes(
            run=run,
            user=request.user,
            body=body,
            particle_index=_int_or_none(request.POST.get("particle"), "particle"),
        ),
        "Changes requested.",
    )


@login_required
@require_POST
def comment(request: HttpRequest, pk: int) -> HttpResponse:
    body = request.POST.get("body", "")
    return _act(
        request,
        pk,
        Access.ANNOTATE,
        lambda run: services.comment_create(
            run=run,
            user=request.user,
            body=body,
            particle_index=_int_or_none(request.POST.get("particle"), "particle"),
        ),
        "Comment added.",
    )


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """Runs waiting for review across the projects of labs the user supervises."""
    runs = runs_awaiting_review(request.user)
    return render(request, "review/queue.html", {"runs": runs})
