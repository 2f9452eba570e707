"""Security headers on every answer: a Content-Security-Policy and its companions.

The policy allows scripts only from this site (the pages' own files and the bpmn-js/dmn-js
bundles under ``/static/vendor/``); the pages' JSON data blocks (``type="application/json"``)
are never executed, so no inline script is needed. Styles may be inline because bpmn-js,
dmn-js and the properties panel set ``style`` attributes when they draw; images and fonts may
also be ``data:`` URIs (the bpmn.io logo, the bpmn font's fallbacks). Nothing may frame the
app (clickjacking), plugins are off, and forms post only back to this site.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.wrappers import Response

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
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

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def add_security_headers(response: Response) -> Response:
    """Set the headers an answer lacks (a view may set a stricter one of its own)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype in ("text/html", "application/json") and not response.cache_control:
        # Pages and API answers carry personal data: browsers and proxies must not keep them.
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Add the headers to every response of the app."""
    app.after_request(add_security_headers)
