"""Fixtures of the credit tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.orm import Session

from ledger.sequencer import LogWriter, write_transaction
from ledger.signer import LogSigner
from tests.credit.helpers import Tx


@pytest.fixture
def tx(db_session: Session, signer: LogSigner) -> Tx:
    """Return a function opening one ledger write transaction (``with tx() as w:``)."""

    @contextmanager
    def opener() -> Iterator[LogWriter]:
        with write_transaction(db_session, signer) as writer:
            yield writer

    return opener
