"""The API's one mapping from service errors to HTTP answers.

Services raise Django's `ValidationError` for bad input and its subclass `TransitionError` for a
state change the run no longer allows (e.g. approving a run edited meanwhile). Views let both
propagate; this handler answers 409 Conflict for the second and 400 (DRF's error shape) for the
first, so no endpoint needs its own ``except`` block.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from semweb.analyses.services import TransitionError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """`REST_FRAMEWORK["EXCEPTION_HANDLER"]`: 409 for refused transitions, 400 for invalid
    input (field errors keep their field names), everything else as DRF answers it."""
    if isinstance(exc, TransitionError):
        return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = ValidationError(detail)
    return drf_exception_handler(exc, context)
