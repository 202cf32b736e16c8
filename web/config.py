"""Configuration: defaults here, then environment variables, then the test mapping.

Each environment variable is read once, with a type and a default (the pattern of
warehouse's ``maybe_set``).  Nothing reads configuration at import time.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ledger.signer import secret_file

__all__ = ["DEFAULTS", "load_config", "instance_secret"]

DEFAULTS: dict[str, Any] = {
    # None means: an SQLite file in the instance folder (see load_config).
    "DATABASE_URL": None,
    # A read replica of DATABASE_URL for the scan page's reads (None: read the primary).
    "DATABASE_REPLICA_URL": None,
    # Connections each worker process keeps open per database: one per request thread
    # and one for the ledger's group committer (a smaller pool opens and closes
    # connections on every request under load).
    "DATABASE_POOL_SIZE": 20,
    # Ledger origin line of every checkpoint (C2SP tlog-checkpoint: a scheme-less URL).
    "LEDGER_ORIGIN": "trace.localhost/log",
    # Public base URL of the resolver printed on labels (GS1 Digital Link host).
    "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
    "LOG_LEVEL": "INFO",
    "SQL_ECHO": False,
    # Secrets: taken from the environment when set, else generated once into the instance folder.
    "SECRET_KEY": None,
    "MASTER_KEY": None,
    "TRUST_PROXY_HOPS": 0,
    # Header in which the reverse proxy puts the client's coarse city (no address is kept).
    "GEO_CITY_HEADER": "X-Geo-City",
    "JSON_AS_ASCII": False,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,  # set true behind HTTPS
    "PERMANENT_SESSION_LIFETIME": 8 * 3600,
}


def _bool(value: str) -> bool:
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"not a positive number: {value!r}")
    return number


# name -> coercer; each is read from the environment variable of the same name.
_ENV: dict[str, Callable[[str], Any]] = {
    "DATABASE_URL": str,
    "DATABASE_REPLICA_URL": str,
    "DATABASE_POOL_SIZE": _positive,
    "LEDGER_ORIGIN": str,
    "PUBLIC_BASE_URL": lambda v: v.rstrip("/"),
    "LOG_LEVEL": str.upper,
    "SQL_ECHO": _bool,
    "SECRET_KEY": str,
    "MASTER_KEY": str,
    "TRUST_PROXY_HOPS": int,
    "GEO_CITY_HEADER": str,
    "RATELIMIT_STORAGE_URI": str,
    "RATELIMIT_KEY_PREFIX": str,
    "RATELIMIT_ENABLED": _bool,
    "SESSION_COOKIE_SECURE": _bool,
}


def load_config(
    instance_path: str, environ: Mapping[str, str], overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Return the settings: defaults, then environment variables, then ``overrides``.

    :raises ValueError: when an environment variable cannot be read as its type.
    """
    config = dict(DEFAULTS)
    for name, coerce in _ENV.items():
        if name in environ:
            try:
                config[name] = coerce(environ[name])
            except ValueError as exc:
                raise ValueError(f"environment variable {name}: {exc}") from None
    if overrides:
        config.update(overrides)
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = "sqlite:///" + str(Path(instance_path) / "trace.db")
    if not config["SECRET_KEY"]:
        config["SECRET_KEY"] = instance_secret(instance_path, "secret_key")
    if not config["MASTER_KEY"]:
        config["MASTER_KEY"] = instance_secret(instance_path, "master_key")
    return config


def instance_secret(instance_path: str, name: str) -> str:
    """Return the secret stored in the instance folder as ``name``, creating it once."""
    value = secret_file(Path(instance_path) / name, lambda: secrets.token_urlsafe(32).encode())
    return value.decode().strip()
