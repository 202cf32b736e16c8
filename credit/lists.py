"""Red list (守信红名单) and black list (失信黑名单): proposals, decisions, exits and effects.

Proposals come automatically from records and grades (``propose_automatic``) or from an
inspector; an inspector decides.  A decision fixes the start, the earliest removal date
and the automatic end date (``rules.BLACK_LIST``, ``rules.RED_LIST``: SAMR 总局令第44号
for the black list), so entry and exit are by date and need no clock job.  The effects
other parts obey are plain functions of (session, subject, now).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from credit import rules
from credit._entries import aware, new_id, require_role, subject_key, ts, write
from credit.errors import Conflict, InvalidInput, NotFound, TooEarly
from credit.models import Grade, ListEntry, Record
from credit.projections import apply_lists
from credit.services import get_subject
from ledger.actor import SYSTEM, Actor
from ledger.sequencer import LogWriter

__all__ = ["LIST_RULES", "active_entries", "is_blacklisted", "is_redlisted", "propose_list_entry",
           "propose_automatic", "decide_list_entry", "remove_from_list", "Effects", "effects",
           "ranking_boost", "inspection_frequency", "shop_closure_flag"]

LIST_RULES = {"black": rules.BLACK_LIST, "red": rules.RED_LIST}
_PROPOSERS = frozenset({"inspector", "admin", "system"})
_DECIDERS = frozenset({"inspector", "admin"})


def active_entries(session: Session, subject_id: str, now: datetime,
                   list_kind: str | None = None) -> list[ListEntry]:
    """Return the decided entries of ``subject_id`` in force at ``now`` (start ≤ now < end)."""
    now = aware(now)
    stmt = select(ListEntry).where(ListEntry.subject_id == subject_id, ListEntry.status == "active",
                                   ListEntry.start <= now, ListEntry.auto_end > now)
    if list_kind is not None:
        stmt = stmt.where(ListEntry.list_kind == list_kind)
    return list(session.scalars(stmt.order_by(ListEntry.start, ListEntry.id)))


def is_blacklisted(session: Session, subject_id: str, now: datetime) -> bool:
    """Return whether ``subject_id`` is on the black list at ``now`` (one index lookup)."""
    return bool(active_entries(session, subject_id, now, "black"))


def is_redlisted(session: Session, subject_id: str, now: datetime) -> bool:
    """Return whether ``subject_id`` is on the red list at ``now``."""
    return bool(active_entries(session, subject_id, now, "red"))


def _considered(session: Session, subject_id: str, list_kind: str, trigger: dict[str, Any],
                statuses: tuple[str, ...] = ("proposed", "active", "rejected", "removed")) -> bool:
    """Return whether an entry with this very trigger exists (e.g. a rejected proposal)."""
    triggers = session.scalars(select(ListEntry.trigger).where(
        ListEntry.subject_id == subject_id, ListEntry.list_kind == list_kind,
        ListEntry.status.in_(statuses)))
    return any(found == trigger for found in triggers)


def _open_entry(session: Session, subject_id: str, list_kind: str, now: datetime) -> str | None:
    proposed = session.scalar(select(ListEntry.id).where(
        ListEntry.subject_id == subject_id, ListEntry.list_kind == list_kind,
        ListEntry.status == "proposed").limit(1))
    active = active_entries(session, subject_id, now, list_kind)
    return proposed or (active[0].id if active else None)


def propose_list_entry(writer: LogWriter, actor: Actor, subject_id: str, list_kind: str,
                       reason: str, basis: str, *, now: datetime,
                       trigger: dict[str, Any] | None = None) -> ListEntry:
    """Propose putting ``subject_id`` on the ``red`` or ``black`` list.

    :raises Forbidden: unless an inspector, administrator or the system proposes.
    :raises InvalidInput: for an unknown list or an empty reason or basis.
    :raises Conflict: when an entry of that list is proposed or in force already.
    """
    now = aware(now)
    require_role(actor, _PROPOSERS, "propose list entries")
    if list_kind not in LIST_RULES or not reason.strip() or not basis.strip():
        raise InvalidInput("a list proposal needs a list (red/black), a reason and a basis")
    get_subject(writer.session, subject_id)
    found = _open_entry(writer.session, subject_id, list_kind, now)
    if found:
        raise Conflict(f"subject {subject_id} has {list_kind} list entry {found} open")
    entry_id = new_id()
    write(writer, actor, now, apply_lists, [("credit.list_proposed", subject_key(subject_id), {
        "id": entry_id, "subject_id": subject_id, "list": list_kind, "reason": reason,
        "basis": basis, "trigger": trigger or {"manual": True}, "rules": rules.RULES_VERSION,
    })])
    return writer.session.get_one(ListEntry, entry_id)


def propose_automatic(writer: LogWriter, *, now: datetime,
                      actor: Actor = SYSTEM) -> list[ListEntry]:
    """Propose black-list entries for serious records in effect and grade D, red-list
    entries for grade A without negative records; return the new proposals.

    A proposal is not repeated for the same trigger (records and grade) once an
    inspector has seen it, even if rejected.  Red-list entries of subjects that now
    have a negative record in effect are removed.
    """
    now = aware(now)
    session, made = writer.session, []
    serious: dict[str, list[str]] = {}
    for record_id, subject_id in session.execute(select(Record.id, Record.subject_id).where(
            Record.severity == "serious", Record.status == "active", Record.end > now,
            Record.start <= now).order_by(Record.subject_id, Record.id)):
        serious.setdefault(subject_id, []).append(record_id)
    graded: dict[str, str] = {}
    grade_entries: dict[str, int] = {}
    for subject_id, grade, index in session.execute(select(
            Grade.subject_id, Grade.grade, Grade.entry_index).where(Grade.grade.in_(("A", "D")))):
        graded[subject_id], grade_entries[subject_id] = grade, index
    trigger: dict[str, Any]
    for subject_id in sorted(set(serious) | {s for s, g in graded.items() if g == "D"}):
        trigger = {"records": serious.get(subject_id, []), "grade": graded.get(subject_id)}
        if _open_entry(session, subject_id, "black", now) is None \
                and not _considered(session, subject_id, "black", trigger):
            made.append(propose_list_entry(
                writer, actor, subject_id, "black", "严重失信记录或信用等级D / serious record or grade D",
                "总局令第44号《市场监督管理严重违法失信名单管理办法》", now=now, trigger=trigger))
    for subject_id in sorted(s for s, g in graded.items() if g == "A"):
        negative = session.scalar(select(Record.id).where(
            Record.subject_id == subject_id, Record.status == "active", Record.end > now,
            Record.start <= now, Record.polarity == "negative").limit(1))
        # One red proposal per grade-A decision (its ledger index), unless the entry ran out.
        trigger = {"grade": "A", "grade_entry": grade_entries[subject_id]}
        if negative is None and _open_entry(session, subject_id, "red", now) is None \
                and not is_blacklisted(session, subject_id, now) \
                and not _considered(session, subject_id, "red", trigger, ("proposed", "rejected")):
            made.append(propose_list_entry(
                writer, actor, subject_id, "red", "信用等级A且无失信记录 / grade A, no negative record",
                "平台守信激励规则 (credit-rules)", now=now, trigger=trigger))
    for entry in list(session.scalars(select(ListEntry).where(
            ListEntry.list_kind == "red", ListEntry.status == "active", ListEntry.auto_end > now)
            .order_by(ListEntry.id))):
        negative = session.scalar(select(Record.id).where(
            Record.subject_id == entry.subject_id, Record.status == "active", Record.end > now,
            Record.start <= now, Record.polarity == "negative").limit(1))
        if negative is not None:
            write(writer, actor, now, apply_lists, [(
                "credit.list_removed", subject_key(entry.subject_id),
                {"id": entry.id, "reason": f"negative record {negative} in effect"})])
    return made


def decide_list_entry(writer: LogWriter, actor: Actor, entry_id: str, approved: bool, note: str, *,
                      now: datetime, start: datetime | None = None) -> ListEntry:
    """Approve (from ``start``, default ``now``) or reject a list proposal.

    :raises Forbidden: unless an inspector or administrator decides.
    :raises NotFound: when there is no such entry.
    :raises Conflict: when it is decided already.
    """
    now = aware(now)
    require_role(actor, _DECIDERS, "decide list entries")
    entry = writer.session.get(ListEntry, entry_id)
    if entry is None:
        raise NotFound(f"no list entry {entry_id!r}")
    if entry.status != "proposed":
        raise Conflict(f"list entry {entry_id} is {entry.status}")
    begin = now if start is None else aware(start, "start")
    rule = LIST_RULES[entry.list_kind]
    write(writer, actor, now, apply_lists, [("credit.list_decided", subject_key(entry.subject_id), {
        "id": entry_id, "approved": approved, "note": note, "start": ts(begin),
        "earliest_removal": ts(rules.add_months(begin, rule.earliest_removal)),
        "auto_end": ts(rules.add_months(begin, rule.duration)),
    })])
    return entry


def remove_from_list(writer: LogWriter, actor: Actor, entry_id: str, reason: str, *,
                     now: datetime) -> ListEntry:
    """Remove a subject early from a list (black list: not before its earliest removal date).

    :raises Forbidden: unless an inspector or administrator removes.
    :raises NotFound: when there is no such entry.
    :raises Conflict: when the entry is not in force.
    :raises TooEarly: before the black-list entry's earliest removal date.
    """
    now = aware(now)
    require_role(actor, _DECIDERS, "remove list entries")
    entry = writer.session.get(ListEntry, entry_id)
    if entry is None:
        raise NotFound(f"no list entry {entry_id!r}")
    if entry.status != "active" or entry.auto_end is None or rules.utc(entry.auto_end) <= now:
        raise Conflict(f"list entry {entry_id} is not in force")
    assert entry.earliest_removal is not None
    if rules.utc(entry.earliest_removal) > now:
        raise TooEarly(f"list entry {entry_id} may be removed from "
                       f"{rules.utc(entry.earliest_removal).isoformat()} (总局令第44号)")
    write(writer, actor, now, apply_lists, [("credit.list_removed", subject_key(entry.subject_id),
          {"id": entry_id, "reason": reason})])
    return entry


@dataclass(frozen=True)
class Effects:
    """What other parts must do about a subject at a time (joint rewards and punishments)."""

    black_listed: bool
    red_listed: bool
    grade: str | None
    ranking_factor: float
    inspections_per_year: int
    shop_closed: bool


def effects(session: Session, subject_id: str, now: datetime) -> Effects:
    """Return the effects of the lists and the grade on ``subject_id`` at ``now``."""
    kinds = {e.list_kind for e in active_entries(session, subject_id, now)}
    black, red = "black" in kinds, "red" in kinds
    row = session.get(Grade, subject_id)
    grade = row.grade if row else None
    key = "black" if black else "red" if red else grade or "none"
    inspections = rules.INSPECTIONS_PER_YEAR["black" if black else grade or "none"]
    return Effects(black, red, grade, rules.RANKING_FACTOR[key], inspections,
                   black and rules.CLOSE_SHOP_ON_BLACK_LIST)


def ranking_boost(session: Session, subject_id: str, now: datetime) -> float:
    """Return the factor search ranking multiplies by (red 1.2 … black 0: not shown)."""
    return effects(session, subject_id, now).ranking_factor


def inspection_frequency(session: Session, subject_id: str, now: datetime) -> int:
    """Return how many 双随机 inspections a year the subject's grade and lists call for."""
    return effects(session, subject_id, now).inspections_per_year


def shop_closure_flag(session: Session, subject_id: str, now: datetime) -> bool:
    """Return whether the subject's shop must be closed (black-listed, ``rules``)."""
    return effects(session, subject_id, now).shop_closed
