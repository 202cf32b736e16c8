"""labels/ is pure: importing every module pulls in neither Flask nor SQLAlchemy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_labels_imports_no_flask_or_sqlalchemy() -> None:
    modules = sorted(p.stem for p in (ROOT / "labels").glob("*.py") if p.stem != "__init__")
    code = (
        "import sys\n"
        + "".join(f"import labels.{m}\n" for m in modules)
        + "roots = {m.split('.')[0] for m in sys.modules}\n"
        + "bad = sorted(roots & {'flask', 'sqlalchemy', 'werkzeug'})\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    )
    assert out.stdout.strip() == ""
    assert len(modules) >= 12
