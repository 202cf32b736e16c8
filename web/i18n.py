"""Languages: Chinese by default, English on request (``?lang=en``, remembered in a cookie).

Message ids are English; ``web/translations/zh`` holds the Chinese catalog
(``make i18n`` extracts and compiles it; a test checks the compiled catalog is current).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import Flask, Response, g, request
from flask_babel import Babel

__all__ = ["LANGUAGES", "init_app", "select_locale", "lang_url"]

LANGUAGES = ("zh", "en")
_COOKIE = "lang"


def select_locale() -> str:
    """Return the language of this request: ``?lang=``, then the cookie, then Chinese."""
    for candidate in (request.args.get("lang"), request.cookies.get(_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    return "zh"


def lang_url(lang: str) -> str:
    """Return this page's URL with ``lang`` set, keeping every other query parameter.

    A label's signature travels in the query string: dropping it would turn an
    authentic label into a counterfeit one.
    """
    pairs = [(k, v) for k, v in parse_qsl(request.query_string.decode("latin-1"),
                                          keep_blank_values=True) if k != "lang"]
    query = urlencode(pairs + [("lang", lang)], safe="~")
    return f"{request.path}?{query}"


def init_app(app: Flask) -> None:
    """Install Flask-Babel and remember an explicit language choice in a cookie."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "zh")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES",
                          str(Path(__file__).with_name("translations")))
    Babel(app, locale_selector=select_locale)

    @app.before_request
    def _language() -> None:
        g.lang = select_locale()

    @app.context_processor
    def _lang_url() -> dict[str, Any]:
        return {"lang_url": lang_url}

    @app.after_request
    def _remember(response: Response) -> Response:
        chosen = request.args.get("lang")
        if chosen in LANGUAGES and request.cookies.get(_COOKIE) != chosen:
            response.set_cookie(_COOKIE, chosen, max_age=365 * 86400, samesite="Lax")
        return response
