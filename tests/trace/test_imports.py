"""Every trace module imports on its own (no import cycle), and importing the models registers
the projection that ``flask ledger replay`` runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.trace.conftest import REPO


@pytest.mark.parametrize("module", ["trace.services", "trace.queries", "trace.projection",
                                    "trace.epcis_capture"])
def test_each_module_imports_first_without_a_cycle(module: str) -> None:
    code = (f"import {module}\n"
            "from ledger import replay\n"
            "assert 'trace' in [p.name for p in replay.projections()]\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
