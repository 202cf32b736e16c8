"""Every documented entry point imports the project's ``trace``, not the standard library's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import trace as imported_trace

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["INSTANCE_PATH"] = str(tmp_path / "instance")
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'ep.db'}"
    env.pop("FLASK_APP", None)
    return env


def test_pytest_imports_the_project_trace() -> None:
    assert Path(imported_trace.__file__).resolve() == ROOT / "trace" / "__init__.py"


def test_flask_cli_imports_the_project_trace(tmp_path: Path) -> None:
    code = "import trace, web; print(trace.__file__)"
    # `flask --app wsgi` loads wsgi.py from the checkout; create_app() refuses the stdlib trace.
    result = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "ledger", "--help"],
        cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "audit" in result.stdout
    probe = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                           text=True, timeout=60)
    assert probe.stdout.strip() == str(ROOT / "trace" / "__init__.py")


def test_the_wsgi_entry_point_tunes_the_garbage_collector(tmp_path: Path) -> None:
    code = "import gc, wsgi; print(gc.get_freeze_count() > 50_000, gc.get_threshold())"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(tmp_path),
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.split("\n")[0] == "True (10000, 10, 10)", result.stderr


def test_create_app_refuses_the_stdlib_trace(tmp_path: Path) -> None:
    # Outside the checkout, `import trace` finds the standard library's module.
    code = (
        "import sys, trace; sys.path.append(sys.argv[1]);"
        "from web import create_app\n"
        "try:\n    create_app()\nexcept RuntimeError as e:\n    print('refused:', e)"
    )
    result = subprocess.run([sys.executable, "-c", code, str(ROOT)], cwd=tmp_path,
                            env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert "refused: imported the standard library's `trace`" in result.stdout, result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_gunicorn_serves_wsgi_app_with_the_project_trace(tmp_path: Path) -> None:
    gunicorn = BIN / "gunicorn"
    if not gunicorn.exists():
        pytest.fail("gunicorn is not installed: `make test` installs the test extra")
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(gunicorn), "--workers", "1", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT, env=_env(tmp_path), stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(log.read_text())
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
