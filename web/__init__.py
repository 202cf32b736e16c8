"""The Flask application: ``create_app()`` wires configuration, database, errors and blueprints."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

__all__ = ["create_app"]

_CHECKOUT = Path(__file__).resolve().parent.parent


def _ensure_project_trace() -> None:
    # A top-level package named `trace` shadows the standard library module of the
    # same name.  The service must run from its checkout so that ours is imported;
    # fail loudly, at start-up, rather than with a puzzling AttributeError later.
    import trace

    origin = Path(getattr(trace, "__file__", "") or "").resolve()
    if origin.parent != _CHECKOUT / "trace":
        raise RuntimeError(
            f"imported the standard library's `trace` ({origin}) instead of the project's: "
            f"run from the checkout {_CHECKOUT} (see README.md)"
        )


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the application: defaults, then environment variables, then ``config``.

    :raises RuntimeError: when started outside the checkout (the stdlib ``trace`` shadows ours).
    """
    _ensure_project_trace()
    from web import config as web_config
    from web import db, errors, i18n, ratelimit

    instance = (config or {}).get("INSTANCE_PATH") or os.environ.get("INSTANCE_PATH")
    app = Flask(
        __name__, instance_path=str(instance or _CHECKOUT / "instance"), instance_relative_config=True
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(web_config.load_config(app.instance_path, os.environ, config))
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if app.config["TRUST_PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUST_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    errors.init_app(app)
    i18n.init_app(app)
    ratelimit.init_app(app)
    db.init_app(app)
    from web import glue

    glue.init_app(app)

    from flask_wtf.csrf import CSRFProtect

    from web import api, cli, console, health, ledger_views, scan, wellknown

    app.register_blueprint(health.bp)
    app.register_blueprint(ledger_views.bp)
    app.register_blueprint(wellknown.bp)
    app.register_blueprint(scan.bp)
    app.register_blueprint(console.bp)
    api.init_app(app)
    csrf = CSRFProtect(app)
    csrf.exempt(api.spec.bp)  # bearer tokens, no cookies: nothing for a forged form to ride on
    cli.init_app(app)
    return app
