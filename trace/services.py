"""Use cases: register products and batches, serialise items, record lifecycle events.

Each use case takes the ``LogWriter`` of a ``ledger.sequencer.write_transaction``
(so web can compose several in one transaction) and reads through its session.
The order is always: validate the body, read the objects, apply the rules of
:mod:`trace.rules`, and only then append the entry and project it with
:func:`trace.projection.apply_appended` (the function replay uses).  A refusal
raises before the append, and the transaction rolls back: nothing is written.

Example::

    with write_transaction(session, signer) as writer:
        index = record_event(writer, merchant, "listing",
                             {"gtin": gtin, "lot": lot, "serial": serial,
                              "platform": "tmall", "shop_id": "s1", "listing_id": "L9"})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.actor import Actor
from ledger.models import LogEntry
from ledger.sequencer import LogWriter, NewEntry
from trace import identifiers as ids
from trace import queries as q
from trace import rules
from trace.errors import BadEvent, Duplicate, ForbiddenRole, NotFound, RuleViolation
from trace.events import LICENCES, Opening, Target, event_time, ledger_kind, parse_event
from trace.models import CONTENTS
from trace.projection import apply_appended

__all__ = ["register_product", "create_batch", "serialise_items", "record_event"]

_CHUNK = 10_000  # entries per LogWriter.append in a production run


def register_product(
    writer: LogWriter,
    actor: Actor,
    *,
    gtin: str,
    name: str,
    category: str,
    producer: str | None = None,
    name_en: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    licence_category: str | None = None,
    at: datetime | str | None = None,
) -> int:
    """Register a product (GTIN) for ``producer`` (the actor itself when a producer).

    The licence category defaults to the one the product category needs
    (:data:`trace.events.LICENCES`).  Returns the entry's ledger index.

    :raises ForbiddenRole: if a producer registers for someone else.
    :raises Duplicate: if the GTIN is registered already.
    :raises BadIdentifier, BadEvent: for an invalid GTIN or field.
    """
    body: dict[str, Any] = {
        "gtin": gtin,
        "name": name,
        "category": category,
        "producer": producer or actor.id,
        "name_en": name_en,
        "attributes": dict(attributes or {}),
        "licence_category": licence_category or LICENCES.get(category),
    }
    return record_event(writer, actor, "product", body, at=at)


def create_batch(
    writer: LogWriter,
    actor: Actor,
    *,
    gtin: str,
    lot: str,
    production_date: date | str,
    expiry_date: date | str | None = None,
    place: str | None = None,
    at: datetime | str | None = None,
) -> int:
    """Record the production (commissioning) of a batch; return its ledger index.

    :raises NotFound: if the product is not registered.
    :raises ForbiddenRole: unless the actor is the product's producer.
    :raises Duplicate: if the batch exists.
    :raises BadEvent: if the expiry date precedes the production date.
    """

    def iso(value: date | str | None) -> str | None:
        return value.isoformat() if isinstance(value, date) else value

    body = {
        "gtin": gtin,
        "lot": lot,
        "production_date": iso(production_date),
        "expiry_date": iso(expiry_date),
        "place": place,
    }
    return record_event(writer, actor, "production", body, at=at)


def serialise_items(
    writer: LogWriter,
    actor: Actor,
    *,
    gtin: str,
    lot: str,
    serials: Sequence[str],
    at: datetime | str | None = None,
    progress: Callable[[int], None] | None = None,
) -> range:
    """Serialise many items of a batch at once; return the range of their ledger indexes.

    ``progress``, if given, is called with the number of items appended so far after
    each chunk (for a progress bar; everything still commits or rolls back together).

    One ``trace.serialisation`` entry per item (an EPCIS commissioning event),
    appended in chunks of 10,000 and projected with bulk inserts.

    :raises NotFound: if the product or batch is unknown.
    :raises ForbiddenRole: unless the actor produces the product.
    :raises RuleViolation: if the batch is recalled or expired.
    :raises Duplicate: if a serial repeats, or is already used for this GTIN (in any lot).
    :raises BadIdentifier: naming the first invalid serial.
    """
    rule = rules.RULES["serialisation"]
    rules.check_role(rule, actor)
    gtin, lot, when = ids.gtin(gtin), ids.lot(lot), event_time(at)
    session = writer.session
    batch = _batch(session, actor, rule, gtin, lot)
    rules.check_batch_open(rule, batch, when)
    valid = [ids.serial(s) for s in serials]
    if not valid:
        raise BadEvent("serialise_items: no serials given")
    seen: set[str] = set()
    for s in valid:
        if s in seen:
            raise Duplicate(f"serial {s!r} is given twice")
        seen.add(s)
    _refuse_existing(session, gtin, valid)
    kind = ledger_kind("serialisation")
    entries = [
        NewEntry(
            kind,
            when,
            actor.id,
            ids.item_subject(gtin, lot, s),
            {"gtin": gtin, "lot": lot, "serial": s},
        )
        for s in valid
    ]
    start = writer.size
    for i in range(0, len(entries), _CHUNK):
        apply_appended(session, writer.append(entries[i : i + _CHUNK]))
        if progress is not None:
            progress(min(i + _CHUNK, len(entries)))
    return range(start, start + len(entries))


def _refuse_existing(session: Session, gtin: str, serials: Sequence[str]) -> None:
    found = q.lots_of_serials(session, gtin, serials, first=True)
    if found:
        serial, lot = found[0]
        raise Duplicate(f"item {gtin} serial {serial!r} exists already (lot {lot!r})")


def _product(session: Session, actor: Actor, rule: rules.Rule, gtin: str) -> None:
    product = q.find_product(session, gtin)
    _check_producer(actor, rule, gtin, product["producer"] if product is not None else None)


def _batch(session: Session, actor: Actor, rule: rules.Rule, gtin: str, lot: str) -> dict[str, Any]:
    producer, batch = q.find_product_batch(session, gtin, lot)  # one query: every write asks
    _check_producer(actor, rule, gtin, producer)
    if batch is None:
        raise NotFound(f"batch {gtin}/{lot} does not exist")
    return batch


def _check_producer(actor: Actor, rule: rules.Rule, gtin: str, producer: str | None) -> None:
    """Refuse an unknown product (``producer`` None), or another producer's (rules.check_owner)."""
    if producer is None:
        raise NotFound(f"product {gtin} is not registered")
    rules.check_owner(rule, actor, producer, gtin)


def _check_item(
    session: Session,
    actor: Actor,
    rule: rules.Rule,
    key: tuple[str, str, str],
    fields: Mapping[str, Any],
    when: str,
    proof: Opening | None,
) -> tuple[str, str] | None:
    """Run every item-level check; return what a consumer's proof opened (or None)."""
    gtin, lot, serial = key
    where = f"item {gtin}/{lot}/{serial}"
    item = q.find_item(session, gtin, lot, serial)
    if item is None:
        raise NotFound(f"{where} does not exist")
    rules.check_batch_open(rule, _batch(session, actor, rule, gtin, lot), when)
    rules.check_state(rule, item, where)
    rules.check_lister(rule, actor, item, where)
    opened = rules.check_consumer(actor, item, proof, where)
    complaint = None
    if rule.kind == "compensation":
        complaint = q.find_event(session, fields["complaint_index"])
        if complaint is not None and (complaint["gtin"], complaint["serial"]) != (gtin, serial):
            complaint = None
    rules.check_specific(rule.kind, item, fields, where, complaint)
    if rule.kind == "aggregation" and item["sscc"] is not None:
        raise RuleViolation(
            f"{where} is in unit {item['sscc']}", reason="trace.rule.already_packed"
        )
    return opened


def _check_unit(
    session: Session,
    actor: Actor,
    rule: rules.Rule,
    target: Target,
    fields: Mapping[str, Any],
    when: str,
) -> None:
    sscc = target.sscc
    assert sscc is not None
    if rule.kind == "aggregation":
        for child in fields.get("items", []):
            _check_item(
                session,
                actor,
                rule,
                (child["gtin"], child["lot"], child["serial"]),
                fields,
                when,
                None,
            )
        ancestors = _unit_ancestors(session, sscc)
        for child in fields.get("units", []):
            unit = q.find_unit(session, child)
            if child in ancestors:
                raise RuleViolation(f"unit {child} contains {sscc}", reason="trace.rule.unit_cycle")
            if unit is not None and unit["parent_sscc"] is not None:
                raise RuleViolation(
                    f"unit {child} is in unit {unit['parent_sscc']}",
                    reason="trace.rule.already_packed",
                )
        return
    items, units = q.unit_contents(session, sscc)
    if not items and not units:
        if q.find_unit(session, sscc) is None:
            raise NotFound(f"logistic unit {sscc} does not exist")
        raise RuleViolation(f"unit {sscc} is empty", reason="trace.rule.empty_unit")
    if rule.kind == "disaggregation":
        direct_items, direct_units = _direct_children(session, sscc)
        for child in fields.get("items", []):
            if (child["gtin"], child["serial"]) not in direct_items:
                raise RuleViolation(
                    f"item {child['gtin']}/{child['serial']} is not in unit {sscc}",
                    reason="trace.rule.not_in_unit",
                )
        for child in fields.get("units", []):
            if child not in direct_units:
                raise RuleViolation(
                    f"unit {child} is not in unit {sscc}", reason="trace.rule.not_in_unit"
                )
        for gtin in dict.fromkeys(gtin for gtin, _, _ in items):  # each product once, in order
            _product(session, actor, rule, gtin)
        return
    if actor.role == "consumer":
        raise ForbiddenRole(f"a consumer acts on an item, not on logistic unit {sscc}")
    for key in items:  # an event on a unit applies to every item inside it
        _check_item(session, actor, rule, key, fields, when, None)


def _unit_ancestors(session: Session, sscc: str) -> set[str]:
    found, current = {sscc}, q.find_unit(session, sscc)
    while (
        current is not None
        and current["parent_sscc"] is not None
        and current["parent_sscc"] not in found
    ):
        found.add(current["parent_sscc"])
        current = q.find_unit(session, current["parent_sscc"])
    return found


def _direct_children(session: Session, sscc: str) -> tuple[set[tuple[str, str]], set[str]]:
    c = CONTENTS.c
    rows = session.execute(
        select(c.child_gtin, c.child_serial, c.child_sscc).where(
            c.parent_sscc == sscc, c.removed_idx.is_(None)
        )
    ).all()
    return ({(g, s) for g, s, u in rows if u is None}, {u for _, _, u in rows if u is not None})


def _check_correction(session: Session, actor: Actor, fields: Mapping[str, Any]) -> str:
    """Check a correction and return the subject of the event it corrects."""
    ref = q.find_event(session, fields["ref_index"])
    if ref is None:
        raise NotFound(f"no trace event at ledger index {fields['ref_index']}")
    if ref["kind"] == "correction":
        raise RuleViolation(
            "a correction cannot be corrected", reason="trace.rule.correct_a_correction"
        )
    if ref["corrected_by"] is not None:
        raise RuleViolation(
            f"event {ref['idx']} was corrected by {ref['corrected_by']}",
            reason="trace.rule.already_corrected",
        )
    if actor.id != ref["actor"] and actor.role not in ("admin", "inspector"):
        raise ForbiddenRole(
            f"only {ref['actor']!r} (or an inspector) may correct event {ref['idx']}",
            reason="trace.forbidden.not_author",
        )
    subject = session.execute(
        select(LogEntry.subject).where(LogEntry.idx == ref["idx"])
    ).scalar_one()
    return str(subject)


def record_event(
    writer: LogWriter,
    actor: Actor,
    kind: str,
    body: Mapping[str, Any],
    *,
    at: datetime | str | None = None,
    proof: Opening | None = None,
) -> int:
    """Check a lifecycle event against the rules, append it and project it; return its index.

    ``body`` names the target (``gtin``/``lot``/``serial``, or ``sscc`` for a logistic
    unit, whose items all receive the event) and the kind's fields
    (:data:`trace.events.FIELDS`).  ``at`` is when it happened (RFC 3339 with an
    offset; now when omitted).  A consumer passes ``proof``, the opening of the
    buyer's or signer's commitment; it is checked, never stored.

    :raises BadEvent, BadIdentifier, CardNumberRefused: for a malformed body.
    :raises ForbiddenRole: for a role or actor that may not record it.
    :raises ProofMismatch: for a consumer without a matching opening.
    :raises NotFound: for an unknown product, batch, item, unit or referenced event.
    :raises Duplicate: for a product or batch that exists.
    :raises RuleViolation: for an event out of lifecycle order (``extra["reason"]``).
    """
    target, fields = parse_event(kind, body)
    rule = rules.RULES[kind]
    rules.check_role(rule, actor)
    when = event_time(at)
    session = writer.session
    entry_actor = actor.id
    subject = (
        target.subject if target.level != "event" else _check_correction(session, actor, fields)
    )
    if kind == "product":
        assert target.gtin is not None
        if actor.role == "producer" and fields["producer"] != actor.id:
            raise ForbiddenRole(
                "a producer registers its own products", reason="trace.forbidden.not_producer"
            )
        if q.find_product(session, target.gtin) is not None:
            raise Duplicate(f"product {target.gtin} is registered already")
    elif target.level == "batch":
        assert target.gtin is not None and target.lot is not None
        if kind == "production":
            producer, batch = q.find_product_batch(session, target.gtin, target.lot)
            _check_producer(actor, rule, target.gtin, producer)
            if batch is not None:
                raise Duplicate(f"batch {target.gtin}/{target.lot} exists already")
            if fields.get("expiry_date", "9999") < fields["production_date"]:
                raise BadEvent("expiry_date precedes production_date")
        else:
            rules.check_batch_open(
                rule, _batch(session, actor, rule, target.gtin, target.lot), when
            )
    elif target.level == "item" and kind == "serialisation":
        assert target.gtin is not None and target.lot is not None and target.serial is not None
        rules.check_batch_open(rule, _batch(session, actor, rule, target.gtin, target.lot), when)
        _refuse_existing(session, target.gtin, [target.serial])
    elif target.level == "item":
        assert target.gtin is not None and target.lot is not None and target.serial is not None
        opened = _check_item(
            session, actor, rule, (target.gtin, target.lot, target.serial), fields, when, proof
        )
        if opened is not None:
            fields["by"], fields["commitment"] = opened
            entry_actor = f"consumer:{opened[0]}"
    elif target.level == "unit":
        _check_unit(session, actor, rule, target, fields, when)
    body_out = {**target.fields(), **fields}
    appended = writer.append([NewEntry(ledger_kind(kind), when, entry_actor, subject, body_out)])
    apply_appended(session, appended)
    return appended[0].index
