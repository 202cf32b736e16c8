"""Public disclosure: the shop credit badge and the query window (信用信息公示).

Every answer cites the ledger checkpoint (size, root, signed note) read at the start of
the query, so a reader can check it against the log offline.  Read the answer in one
transaction (a snapshot on SQLite; REPEATABLE READ on PostgreSQL) for the citation to be
exact.  Individuals show a real-name mark only, never their details.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from credit import rules
from credit._entries import aware, subject_key
from credit.errors import InvalidInput
from credit.lists import active_entries
from credit.models import Subject
from credit.ratings import rating_summary
from credit.records import public_records
from credit.scoring import current_grade
from credit.services import (active_commitment, find_by_uscc, get_subject, identity_status,
                             valid_licences)
from ledger.models import ObjectHead
from ledger.store import read_head

__all__ = ["CheckpointRef", "LicenceMark", "Badge", "PublicRecord", "Disclosure", "badge",
           "badge_state",
           "disclose", "render_badge_svg"]


@dataclass(frozen=True)
class CheckpointRef:
    """The ledger state an answer was computed at: tree size, root (base64), signed note."""

    size: int
    root: str
    note: str | None


@dataclass(frozen=True)
class LicenceMark:
    """A valid licence as shown publicly (电子商务法 Art 15)."""

    licence_type: str
    name_zh: str
    number: str
    valid_until: datetime


@dataclass(frozen=True)
class Badge:
    """The data of a shop credit badge."""

    subject_id: str
    kind: str
    name: str
    uscc: str | None
    grade: str | None
    red_listed: bool
    black_listed: bool
    realname_verified: bool
    commitment: bool
    licences: list[LicenceMark]
    as_of: datetime
    checkpoint: CheckpointRef


@dataclass(frozen=True)
class PublicRecord:
    """A credit record in publication."""

    id: str
    polarity: str
    severity: str | None
    source: str
    basis: str
    facts: str
    authority: str
    decision_no: str | None
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Disclosure:
    """The query-window answer: the badge, published records and rating figures."""

    badge: Badge
    records: list[PublicRecord]
    points: int
    good_rate_percent: int
    checkpoint: CheckpointRef


def _checkpoint(session: Session) -> CheckpointRef:
    head = read_head(session)
    return CheckpointRef(head.size, base64.b64encode(head.root).decode("ascii"), head.checkpoint)


def _badge(session: Session, subject: Subject, now: datetime, cited: CheckpointRef) -> Badge:
    kinds = {e.list_kind for e in active_entries(session, subject.id, now)}
    grade = current_grade(session, subject.id)
    marks = [LicenceMark(lic.licence_type, rules.LICENCE_TYPES[lic.licence_type], lic.number,
                         rules.utc(lic.valid_until))
             for lic in valid_licences(session, subject.id, now)]
    return Badge(subject.id, subject.kind, subject.name,
                 subject.uscc if subject.kind in rules.ORGANISATION_KINDS else None,
                 grade.grade if grade else None, "red" in kinds, "black" in kinds,
                 identity_status(subject, now) == "verified",
                 active_commitment(session, subject.id, now) is not None, marks, now, cited)


def badge_state(session: Session, subject_id: str) -> int | None:
    """Return the index of the last entry of the subject's chain (None: it has none).

    Every input of :func:`badge` (the subject, its licences, commitments, list entries,
    grade and identity check) changes only by an entry in the subject's own hash chain,
    so a badge computed at one state stays right until this changes or a validity
    period ends.  One primary-key lookup.
    """
    return session.scalar(
        select(ObjectHead.last_idx).where(ObjectHead.subject == subject_key(subject_id)))


def badge(session: Session, subject_id: str, now: datetime) -> Badge:
    """Return the badge data of ``subject_id`` at ``now``, citing the ledger checkpoint.

    :raises NotFound: when there is no such subject.
    """
    now = aware(now)
    cited = _checkpoint(session)
    return _badge(session, get_subject(session, subject_id), now, cited)


def disclose(session: Session, *, now: datetime, subject_id: str | None = None,
             uscc: str | None = None) -> Disclosure:
    """Answer a public query by subject id or 统一社会信用代码, citing the ledger checkpoint.

    :raises InvalidInput: unless exactly one of ``subject_id`` and ``uscc`` is given.
    :raises NotFound: when no subject matches.
    """
    now = aware(now)
    if (subject_id is None) == (uscc is None):
        raise InvalidInput("query by exactly one of subject id and 统一社会信用代码")
    cited = _checkpoint(session)
    subject = get_subject(session, subject_id) if subject_id else find_by_uscc(session, uscc or "")
    records = [PublicRecord(r.id, r.polarity, r.severity, r.source, r.basis, r.facts, r.authority,
                            r.decision_no, rules.utc(r.start), rules.utc(r.end))
               for r in public_records(session, subject.id, now)]
    summary = rating_summary(session, subject.id, now)
    return Disclosure(_badge(session, subject, now, cited), records, summary.points,
                      round(summary.good_rate * 100), cited)


_COLOURS = {"A": "#1a7f37", "B": "#0969da", "C": "#bf8700", "D": "#cf222e", None: "#57606a"}


def render_badge_svg(data: Badge) -> str:
    """Return the badge as a self-contained SVG document (a pure function of ``data``)."""
    colour = "#cf222e" if data.black_listed else _COLOURS.get(data.grade, "#57606a")
    status = "失信黑名单" if data.black_listed else "守信红名单" if data.red_listed else ""
    grade = f"信用等级 {data.grade}" if data.grade else "信用等级 未评级"
    marks = "  ".join(f"{'✓' if ok else '✗'}{label}" for ok, label in (
        (data.realname_verified, "实名认证"), (bool(data.licences), "许可证"),
        (data.commitment, "信用承诺")))
    name = data.name if len(data.name) <= 16 else data.name[:15] + "…"
    cited = f"账本检查点 #{data.checkpoint.size} {data.checkpoint.root[:12]}"
    title = f"{data.name} {grade} {status}".strip()
    lines = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="280" height="96" viewBox="0 0 280 96" '
        f'role="img" aria-label="{escape(title, {chr(34): "&quot;"})}">',
        f"<title>{escape(title)}</title>",
        '<rect width="280" height="96" rx="8" fill="#ffffff" stroke="#d0d7de"/>',
        f'<rect width="8" height="96" rx="4" fill="{colour}"/>',
        '<g font-family="Noto Sans CJK SC, Source Han Sans SC, sans-serif" fill="#1f2328">',
        f'<text x="18" y="24" font-size="15" font-weight="bold">{escape(name)}</text>',
        f'<text x="18" y="46" font-size="14" fill="{colour}">{escape(grade)}'
        + (f' · {escape(status)}' if status else "") + "</text>",
        f'<text x="18" y="66" font-size="12">{escape(marks)}</text>',
        f'<text x="18" y="86" font-size="9" fill="#57606a">{escape(cited)}</text>',
        "</g>",
        "</svg>",
    ]
    return "\n".join(lines) + "\n"
