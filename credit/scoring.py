"""The explainable credit score (0–100) and grade A/B/C/D of a subject.

``compute_score`` lists every contribution (base, each record in effect with its decay,
the ratings, list decisions, an overdue verification) under ``rules.SCORE``.
``refresh_grade`` appends a ``credit.grade_changed`` entry only when the grade changes,
so the grade history is in the ledger and the badge cites it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from credit import rules
from credit._entries import aware, require_role, subject_key, write
from credit.lists import active_entries
from credit.models import Grade, Rating
from credit.projections import apply_grades
from credit.records import records_in_effect
from credit.services import get_subject, identity_status
from ledger.actor import SYSTEM, Actor
from ledger.sequencer import LogWriter

__all__ = ["Contribution", "Score", "compute_score", "refresh_grade", "current_grade"]

_SCORERS = frozenset({"system", "inspector", "admin"})


@dataclass(frozen=True)
class Contribution:
    """One line of "why this score": what (``kind``, ``ref``) moved it by ``points``."""

    kind: str  # base | record | ratings | list | identity
    ref: str | None
    points: int
    zh: str
    en: str

    def as_json(self) -> dict[str, Any]:
        """Return the contribution as a JSON object (integers and strings only)."""
        return {"kind": self.kind, "ref": self.ref, "points": self.points, "zh": self.zh,
                "en": self.en}


@dataclass(frozen=True)
class Score:
    """A subject's score and grade at ``computed_at``, with its contributions."""

    subject_id: str
    score: int
    grade: str
    contributions: list[Contribution]
    rules_version: str
    computed_at: datetime


def _decay(start: datetime, now: datetime) -> float:
    age_days = max((now - rules.utc(start)).total_seconds(), 0.0) / 86400
    return float(0.5 ** (age_days / rules.SCORE.half_life_days))


def _record_lines(session: Session, subject_id: str,
                  now: datetime) -> tuple[list[Contribution], bool]:
    lines, positive, serious = [], 0, False
    for record in records_in_effect(session, subject_id, now):
        decay = _decay(record.start, now)
        pct = round(decay * 100)
        if record.polarity == "negative":
            assert record.severity is not None
            serious = serious or record.severity == "serious"
            points = round(rules.SCORE.record_points[record.severity] * decay)
            zh = rules.SEVERITY_ZH[record.severity]
            lines.append(Contribution(
                "record", record.id, points,
                f"{zh}失信记录（{record.source}）：{record.basis}，权重{pct}%",
                f"{record.severity} negative record ({record.source}): {record.basis}, "
                f"weight {pct}%"))
        else:
            room = rules.SCORE.positive_cap - positive
            points = max(0, min(room, round(rules.SCORE.positive_record_points * decay)))
            positive += points
            lines.append(Contribution("record", record.id, points, f"守信记录：{record.basis}",
                                      f"positive record: {record.basis}"))
    return lines, serious


def _ratings_line(session: Session, subject_id: str, now: datetime) -> Contribution | None:
    since = now - timedelta(days=rules.SCORE.rating_days)
    rows = session.execute(select(Rating.value, Rating.created_at).where(
        Rating.ratee_id == subject_id, Rating.created_at > since, Rating.created_at <= now,
        Rating.counted.is_(True)))
    good = bad = 0.0
    counts = {"good": 0, "neutral": 0, "bad": 0}
    for value, created_at in rows:
        counts[value] += 1
        weight = rules.SCORE.forgetting ** ((now - rules.utc(created_at)).days / 30)
        good += weight if value == "good" else 0.0
        bad += weight if value == "bad" else 0.0
    if not any(counts.values()):
        return None
    expectation = (good + 1) / (good + bad + 2)  # Beta reputation (Jøsang & Ismail 2002)
    points = round((2 * expectation - 1) * rules.SCORE.rating_points)
    pct = round(expectation * 100)
    return Contribution(
        "ratings", None, points,
        f"评价：好评{counts['good']}、中评{counts['neutral']}、差评{counts['bad']}，修正好评率{pct}%",
        f"ratings: {counts['good']} good, {counts['neutral']} neutral, {counts['bad']} bad; "
        f"shrunk good rate {pct}%")


def compute_score(session: Session, subject_id: str, now: datetime) -> Score:
    """Return the score and grade of ``subject_id`` at ``now``, with every contribution.

    :raises NotFound: when there is no such subject.
    """
    now = aware(now)
    subject = get_subject(session, subject_id)
    lines = [Contribution("base", None, rules.SCORE.base, "基础分", "base score")]
    record_lines, serious = _record_lines(session, subject_id, now)
    lines += record_lines
    ratings = _ratings_line(session, subject_id, now)
    if ratings is not None:
        lines.append(ratings)
    black = False
    for entry in active_entries(session, subject_id, now):
        if entry.list_kind == "black":
            black = True
            lines.append(Contribution("list", entry.id, 0, f"列入失信黑名单：{entry.reason}（直接判为D级）",
                                      f"on the black list: {entry.reason} (grade D directly)"))
        else:
            lines.append(Contribution("list", entry.id, rules.SCORE.red_list_points,
                                      f"列入守信红名单：{entry.reason}",
                                      f"on the red list: {entry.reason}"))
    if identity_status(subject, now) == "overdue":
        lines.append(Contribution("identity", None, rules.SCORE.verification_overdue_points,
                                  "实名核验已逾期", "real-name re-verification overdue"))
    score = max(0, min(100, sum(c.points for c in lines)))
    grade = rules.grade_for(score, black_listed=black, serious=serious)
    return Score(subject_id, score, grade, lines, rules.RULES_VERSION, now)


def current_grade(session: Session, subject_id: str) -> Grade | None:
    """Return the grade last recorded in the ledger for ``subject_id`` (None if never graded)."""
    return session.get(Grade, subject_id)


def refresh_grade(writer: LogWriter, subject_id: str, *, now: datetime,
                  actor: Actor = SYSTEM) -> Score:
    """Compute the score; append a ``credit.grade_changed`` entry when the grade changed.

    :raises Forbidden: unless the system, an inspector or an administrator refreshes.
    :raises NotFound: when there is no such subject.
    """
    require_role(actor, _SCORERS, "refresh grades")
    score = compute_score(writer.session, subject_id, now)
    current = current_grade(writer.session, subject_id)
    if current is None or current.grade != score.grade:
        write(writer, actor, now, apply_grades, [("credit.grade_changed", subject_key(subject_id), {
            "subject_id": subject_id, "previous": current.grade if current else None,
            "grade": score.grade, "score": score.score,
            "contributions": [c.as_json() for c in score.contributions],
            "rules": score.rules_version,
        })])
    return score
