"""The log's checkpoint signer and its guard against signing a fork.

The signer keeps the size and root of the last checkpoint it signed in a file next
to its key, outside the database, and refuses to sign a checkpoint that is not
consistent with it.  A database restored from an old backup (smaller, or the same
size with another root) is therefore refused instead of silently forking the log.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger import note
from ledger.errors import SequencerError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ledger.store import LogState

__all__ = ["LogSigner", "secret_file"]


def secret_file(path: Path, generate: Callable[[], bytes]) -> bytes:
    """Return the secret stored at ``path``, creating it once, atomically, with mode 0600.

    Two processes starting together agree on one value: the file is written aside
    and linked into place, and the loser of the race reads the winner's file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(generate())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_bytes()


class LogSigner:
    """Sign checkpoints of one log (its origin) with an Ed25519 signed-note key."""

    def __init__(self, origin: str, key: note.NoteSigner, state_path: Path | None) -> None:
        self.origin = origin
        self.key = key
        self._state = _StateFile(state_path) if state_path is not None else None

    @classmethod
    def from_instance(cls, instance_path: str | Path, origin: str) -> LogSigner:
        """Load (or create once) the log key and signer state in the instance folder."""
        folder = Path(instance_path)
        seed = secret_file(
            folder / "ledger-log.key", lambda: base64.b64encode(secrets.token_bytes(32)) + b"\n"
        )
        key = note.signer_from_private_bytes(origin, base64.b64decode(seed.strip()))
        return cls(origin, key, folder / "ledger-signer-state.json")

    @property
    def vkey(self) -> str:
        """Return the verifier key string ``name+hex(keyID)+base64(0x01||pubkey)``."""
        return self.key.vkey

    def last_signed(self) -> tuple[int, bytes] | None:
        """Return the size and root of the last checkpoint this signer signed, if any."""
        if self._state is None:
            return None
        state = self._state.read()
        if state is None or state.get("origin") != self.origin:
            return None
        return int(state["size"]), base64.b64decode(state["root"])

    def sign_checkpoint(self, session: Session, before: LogState, size: int, root: bytes) -> str:
        """Return the signed note of checkpoint (origin, ``size``, ``root``).

        ``before`` is the log state this transaction extended; it must be
        consistent with the last checkpoint this signer signed.

        :raises SequencerError: when signing would fork the log.
        """
        from ledger.store import root_at

        last = self.last_signed()
        if last is not None:
            last_size, last_root = last
            if before.size < last_size:
                raise SequencerError(
                    f"the database holds {before.size} entries but this signer already signed "
                    f"a checkpoint of size {last_size}: was it restored from an old backup? "
                    "Refusing to fork the log."
                )
            # Same size: the head's root must be the signed one (the common case, no reads);
            # a larger tree must contain the signed one, recomputed from the stored tiles.
            stored = before.root if before.size == last_size else root_at(session, last_size)
            if stored != last_root:
                raise SequencerError(
                    f"the stored tree at size {last_size} does not match the checkpoint this "
                    "signer signed: refusing to fork the log."
                )
        text = note.format_checkpoint(note.Checkpoint(self.origin, size, root))
        return note.sign_note(text, self.key)

    def remember(self, size: int, root: bytes) -> None:
        """Record (``size``, ``root``) as last signed, unless a larger one is recorded."""
        if self._state is not None:
            self._state.write_if_larger(self.origin, size, root)


class _StateFile:
    """The signer's record of its last checkpoint: one fixed-size JSON record, updated in place.

    Writers take an exclusive ``flock`` and readers a shared one, so a record is never
    read half-written; updating in place (no rename per commit) keeps an append cheap.
    """

    RECORD = 512

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0

    def _handle(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # not shared across fork()
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def _load(self, fd: int) -> dict[str, Any] | None:
        data = os.pread(fd, self.RECORD * 2, 0).strip(b" \n\0")
        return json.loads(data) if data else None

    def read(self) -> dict[str, Any] | None:
        """Return the recorded state (None before the first checkpoint)."""
        fd = self._handle()
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            return self._load(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def write_if_larger(self, origin: str, size: int, root: bytes) -> None:
        """Record a checkpoint unless one at least as large is recorded already."""
        fd = self._handle()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            current = self._load(fd)
            if current is not None and current.get("origin") == origin and current["size"] >= size:
                return
            record = json.dumps({"origin": origin, "size": size,
                                 "root": base64.b64encode(root).decode()}).encode()
            if len(record) > self.RECORD:
                raise SequencerError("log origin too long for the signer's state record")
            os.pwrite(fd, record.ljust(self.RECORD) + b"\n", 0)
            os.ftruncate(fd, self.RECORD + 1)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
