"""Content-Security-Policy on every response.

Scripts come only from this site (no inline scripts): page configuration travels in
``<script type="application/json">`` blocks (``json_script``) or data attributes read by the
static JS files, and handlers are attached from those files. ``'unsafe-eval'`` stays allowed
for one reason: Plotly's WebGL traces (the review page's outlines, through regl) compile their
shaders' JS with ``new Function``; without it clicks on the overlay do nothing (seen in the
e2e review flow). Injected markup still cannot run: it would need an inline script or handler.
Styles allow ``'unsafe-inline'`` because Plotly positions its SVG with inline styles; images
allow ``data:`` for the printable report's embedded previews and ``blob:`` for Plotly's PNG
download.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

DEFAULT_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = getattr(settings, "SEMWEB_CSP", None) or DEFAULT_CSP

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
