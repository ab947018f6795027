"""Errors shared by the services of several apps (one class, so one handler maps them)."""

from __future__ import annotations

from django.core.exceptions import ValidationError


class TransitionError(ValidationError):
    """The object (a run, a model version) is not in a state that allows this: a 409 Conflict
    in the API (`semweb.api.exceptions`), a message on the pages."""
