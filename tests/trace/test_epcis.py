"""EPCIS 2.0: the CBV event hash, export valid against GS1's schema, capture of GS1's examples."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from trace import queries, services
from trace.epcis import EpcisSchema, export_batch, export_item
from trace.epcis_capture import capture
from trace.epcis_hash import epc_to_dl, event_hash
from trace.errors import EpcisInvalid, ForbiddenRole
from trace.events import commit
from trace.models import EpcisEvent, TraceEvent
from tests.trace.conftest import (
    AT,
    CONSUMER,
    COURIER,
    GTIN,
    INSPECTOR,
    LOGISTICS,
    LOT,
    MERCHANT,
    PLATFORM,
    PRODUCER,
    Buyer,
    Tx,
    deliver,
    item,
    key,
    sell,
)

EXAMPLES = (
    "Example_9.6.1-ObjectEvent.jsonld",
    "Example_9.6.2-ObjectEvent.jsonld",
    "Example_9.6.3-AggregationEvent.jsonld",
    "Example-TransactionEvents-2020_07_03y.jsonld",
)


def example(folder: Path, name: str) -> dict[str, Any]:
    """Read one of GS1's example documents (tests/vectors/epcis)."""
    data: dict[str, Any] = json.loads((folder / name).read_text(encoding="utf-8"))
    return data


# Source: RalphTro/epcis-event-hash-generator tests/examples/epcisDocWithSingleEvent.jsonld and
# its .hashes file (CBV 2.0 algorithm; the reference implementation's own vector).
REFERENCE_EVENT: dict[str, Any] = {
    "type": "ObjectEvent",
    "action": "OBSERVE",
    "bizStep": "shipping",
    "disposition": "in_transit",
    "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"],
    "eventTime": "2022-02-16T20:33:31.116000-06:00",
    "eventTimeZoneOffset": "-06:00",
    "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
    "bizTransactionList": [
        {"type": "po", "bizTransaction": "http://transaction.acme.com/po/12345678"}
    ],
}
REFERENCE_HASH = (
    "ni:///sha-256;3e0f2437f4cb5e8a1b832b769c0eed1bf3e1421f14061132e9800ded03f10182?ver=CBV2.0"
)


def test_event_hash_matches_the_reference_implementation() -> None:
    assert event_hash(REFERENCE_EVENT) == REFERENCE_HASH


def test_event_hash_ignores_order_ids_and_spelling_but_not_content() -> None:
    variant = dict(reversed(list(copy.deepcopy(REFERENCE_EVENT).items())))
    variant.update(
        eventID="urn:uuid:1",
        recordTime="2030-01-01T00:00:00Z",
        bizStep="urn:epcglobal:cbv:bizstep:shipping",
        eventTime="2022-02-17T02:33:31.1160Z",
        epcList=[
            "https://example.com/01/10614141073464/10/LOT9/21/2018",
            "https://id.gs1.org/01/10614141073464/21/2017?17=301231",
        ],
    )
    assert event_hash(variant) == REFERENCE_HASH
    assert event_hash({**REFERENCE_EVENT, "disposition": "in_progress"}) != REFERENCE_HASH


@pytest.mark.parametrize(
    ("urn", "link"),
    [  # TDS 2.0 §6-7; cf. RalphTro PR #102 (SSCC extension digit)
        ("urn:epc:id:sgtin:0614141.107346.2017", "https://id.gs1.org/01/10614141073464/21/2017"),
        ("urn:epc:id:sscc:4012345.3111111111", "https://id.gs1.org/00/340123451111111111"),
        ("urn:epc:id:sgln:4012345.00005.122", "https://id.gs1.org/414/4012345000054/254/122"),
        ("urn:epc:id:sgln:4012345.00005.0", "https://id.gs1.org/414/4012345000054"),
        (
            "urn:epc:class:lgtin:4012345.012345.Lot987",
            "https://id.gs1.org/01/04012345123456/10/Lot987",
        ),
        ("urn:epc:idpat:sgtin:4012345.098765.*", "https://id.gs1.org/01/04012345987652"),
        ("urn:epc:id:gsrn:4012345.0000006765", "https://id.gs1.org/8018/401234500000067657"),
        ("urn:epc:id:gdti:4012345.00009.PO-4711", "https://id.gs1.org/253/4012345000092PO-4711"),
        ("urn:epc:id:sgtin:4012345.011111.98%22", "https://id.gs1.org/01/04012345111118/21/98%22"),
    ],
)
def test_epc_uris_convert_to_canonical_digital_links(urn: str, link: str) -> None:
    assert epc_to_dl(urn) == link


@pytest.mark.parametrize("name", EXAMPLES)
def test_gs1_examples_are_valid_against_the_schema(
    examples: Path, epcis_schema: EpcisSchema, name: str
) -> None:
    assert epcis_schema.problems(example(examples, name)) == []


def full_life(tx: Tx, buyer: Buyer) -> None:
    """Give item S0000 an event of every kind."""
    signer_commitment, signer_opening = commit("signer")
    sell(tx, "S0000", buyer)
    with tx() as w:
        services.record_event(
            w,
            INSPECTOR,
            "inspection",
            {
                "gtin": GTIN,
                "lot": LOT,
                "result": "pass",
                "report_no": "R-7",
                "inspecting_body": "CIQ",
            },
            at=AT,
        )
        services.record_event(
            w,
            PRODUCER,
            "aggregation",
            {"sscc": "069012340000000016", "items": [key("S0000")]},
            at=AT,
        )
        services.record_event(w, LOGISTICS, "disaggregation", {"sscc": "069012340000000016"}, at=AT)
    deliver(tx, "S0000", signer_commitment)
    with tx() as w:
        services.record_event(
            w,
            PLATFORM,
            "payment",
            {**key("S0000"), "institution": "Alipay", "reference": "T-1"},
            at=AT,
        )
        review = services.record_event(
            w,
            CONSUMER,
            "review",
            {**key("S0000"), "rating": 5, "text": "好"},
            at=AT,
            proof=signer_opening,
        )
        services.record_event(
            w,
            CONSUMER,
            "follow_up_review",
            {**key("S0000"), "review_index": review, "text": "still fine"},
            at=AT,
            proof=buyer.opening,
        )
        complaint = services.record_event(
            w,
            CONSUMER,
            "complaint",
            {**key("S0000"), "text": "dented can"},
            at=AT,
            proof=buyer.opening,
        )
        services.record_event(
            w,
            CONSUMER,
            "return",
            {**key("S0000"), "reason": "dented", "rma": "RMA-1"},
            at=AT,
            proof=buyer.opening,
        )
        services.record_event(
            w, MERCHANT, "refund", {**key("S0000"), "amount_cents": 25900, "currency": "CNY"}, at=AT
        )
        services.record_event(
            w,
            PLATFORM,
            "compensation",
            {**key("S0000"), "amount_cents": 1000, "currency": "CNY", "complaint_index": complaint},
            at=AT,
        )
        services.record_event(
            w, INSPECTOR, "recall", {"gtin": GTIN, "lot": LOT, "reason": "dents"}, at=AT
        )


def test_item_export_validates_and_carries_hash_ids_and_ledger_indexes(
    tx: Tx, db_session: Session, stocked: list[str], buyer: Buyer, epcis_schema: EpcisSchema
) -> None:
    full_life(tx, buyer)
    with tx() as w:
        history = queries.item_history(db_session, GTIN, LOT, "S0000")
        signing = next(e.index for e in history.events if e.kind == "signing")
        services.record_event(
            w, COURIER, "correction", {"ref_index": signing, "reason": "signed by neighbour"}, at=AT
        )
    doc = export_item(db_session, GTIN, LOT, "S0000", base="https://t.example.cn")
    assert epcis_schema.problems(doc) == []
    events = doc["epcisBody"]["eventList"]
    steps = [e["bizStep"].rsplit(":", 1)[-1] for e in events]
    assert steps[:4] == ["commissioning", "commissioning", "listing", "retail_selling"]
    assert {
        "inspecting",
        "packing",
        "unpacking",
        "shipping",
        "arriving",
        "receiving",
        "review",
        "follow_up_review",
        "complaint",
        "payment",
        "refund",
        "compensation",
        "recall",
    } <= set(steps)
    for event in events:
        body = {k: v for k, v in event.items() if k not in ("eventID", "errorDeclaration")}
        assert event["eventID"] == event_hash(body, {"tl": "urn:trace-labels:epcis:"})
    item_epc = "https://t.example.cn/01/06901234567892/10/L2026A/21/S0000"
    assert events[1]["epcList"] == [item_epc] and events[1]["ilmd"]["cbvmda:lotNumber"] == LOT
    declared = [e for e in events if "errorDeclaration" in e]
    assert len(declared) == 1 and declared[0]["tl:ledgerIndex"] == signing
    assert not any("opening" in json.dumps(e) for e in events)


def test_batch_export_validates(
    tx: Tx, db_session: Session, stocked: list[str], buyer: Buyer, epcis_schema: EpcisSchema
) -> None:
    full_life(tx, buyer)
    doc = export_batch(db_session, GTIN, LOT)
    assert epcis_schema.problems(doc) == []
    assert [e["bizStep"].rsplit(":", 1)[-1] for e in doc["epcisBody"]["eventList"]] == [
        "commissioning",
        "inspecting",
        "recall",
    ]
    assert doc["epcisBody"]["eventList"][2]["disposition"] == "recalled"


def ledger_rows(session: Session) -> int:
    session.rollback()
    return len(session.execute(select(EpcisEvent.event_hash)).all())


def test_the_gs1_examples_are_captured_then_recaptured_idempotently(
    tx: Tx,
    db_session: Session,
    size: Callable[[], int],
    examples: Path,
    epcis_schema: EpcisSchema,
) -> None:
    hashes: list[str] = []
    for name in EXAMPLES:
        with tx() as w:
            result = capture(w, LOGISTICS, example(examples, name), schema=epcis_schema)
        assert [c.status for c in result.events] == ["captured"] * len(result.events)
        hashes += [c.event_hash for c in result.events]
    assert len(hashes) == len(set(hashes)) == 6
    before = size()
    for name in EXAMPLES:
        with tx() as w:
            again = capture(
                w, LOGISTICS, (examples / name).read_bytes(), schema=epcis_schema
            )
        assert again.captured == [] and len(again.duplicates) == len(again.events)
    assert size() == before
    # The SGTINs of 9.6.1/9.6.3 reach item histories; 9.6.3's SSCC is a logistic unit.
    events = db_session.execute(
        select(TraceEvent.kind, TraceEvent.source).where(
            TraceEvent.gtin == "10614141073464", TraceEvent.serial == "2018"
        )
    ).all()
    assert ("shipment", "epcis") in events and ("receipt", "epcis") in events
    history = queries.unit_history(db_session, "106141412345678908")
    assert history.events[0].entry.body["mapped"] == "receipt"


def test_a_captured_aggregation_feeds_where_used(
    tx: Tx, db_session: Session, stocked: list[str], epcis_schema: EpcisSchema
) -> None:
    doc = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-28T01:00:00Z",
        "epcisBody": {
            "eventList": [
                {
                    "type": "AggregationEvent",
                    "eventTime": "2026-11-28T09:00:00.000+08:00",
                    "eventTimeZoneOffset": "+08:00",
                    "parentID": "https://id.gs1.org/00/069012340000000047",
                    "childEPCs": [f"https://id.gs1.org/01/{GTIN}/21/S0005"],
                    "action": "ADD",
                    "bizStep": "packing",
                }
            ]
        },
    }
    with tx() as w:
        capture(w, LOGISTICS, doc, schema=epcis_schema)
    assert queries.where_used(db_session, GTIN, LOT).units == ["069012340000000047"]
    assert item(db_session, "S0005")["sscc"] == "069012340000000047"
    kinds = [
        (e.kind, e.source) for e in queries.item_history(db_session, GTIN, LOT, "S0005").events
    ]
    assert kinds[-1] == ("aggregation", "epcis")
    exported = export_item(db_session, GTIN, LOT, "S0005")
    assert epcis_schema.problems(exported) == []
    assert exported["epcisBody"]["eventList"][-1]["eventID"].startswith("ni:///sha-256;")


def test_an_error_declaration_corrects_the_captured_event(
    tx: Tx, db_session: Session, examples: Path, epcis_schema: EpcisSchema
) -> None:
    doc = example(examples, "Example_9.6.2-ObjectEvent.jsonld")
    with tx() as w:
        first = capture(w, LOGISTICS, doc, schema=epcis_schema).events[0]
    declared = copy.deepcopy(doc)
    declared["epcisBody"]["eventList"][0]["errorDeclaration"] = {
        "declarationTime": "2013-06-09T10:00:00.000Z",
        "reason": "incorrect_data",
    }
    with tx() as w:
        result = capture(w, LOGISTICS, declared, schema=epcis_schema)
    assert (
        result.events[0].status == "error_declared"
        and result.events[0].event_hash == first.event_hash
    )
    row = db_session.execute(
        select(EpcisEvent).where(EpcisEvent.event_hash == first.event_hash)
    ).scalar_one()
    assert row.declared_error_idx == result.events[0].index


def test_a_schema_invalid_document_is_refused_whole_with_every_problem(
    tx: Tx,
    db_session: Session,
    size: Callable[[], int],
    examples: Path,
    epcis_schema: EpcisSchema,
) -> None:
    doc = example(examples, "Example_9.6.1-ObjectEvent.jsonld")
    doc["epcisBody"]["eventList"][1]["action"] = "UPDATE"
    del doc["epcisBody"]["eventList"][1]["eventTimeZoneOffset"]
    before = size()
    with pytest.raises(EpcisInvalid) as info:
        with tx() as w:
            capture(w, LOGISTICS, doc, schema=epcis_schema)
    problems = info.value.extra["problems"]
    assert info.value.code == "trace.epcis_invalid"
    assert any("eventList/1/action" in p and "UPDATE" in p for p in problems)
    assert any("eventTimeZoneOffset" in p for p in problems)
    assert size() == before and ledger_rows(db_session) == 0  # event 0 was valid, yet not captured


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        (b"{not json", "(document)"),
        ('{"type": "EPCISDocument", "schemaVersion": NaN}', "NaN"),
        ({"type": "ObjectEvent", "@context": "x"}, ""),
    ],
)
def test_malformed_documents_are_refused(
    tx: Tx, size: Callable[[], int], epcis_schema: EpcisSchema, document: Any, fragment: str
) -> None:
    before = size()
    with pytest.raises(EpcisInvalid) as info:
        with tx() as w:
            capture(w, LOGISTICS, document, schema=epcis_schema)
    assert info.value.problems and fragment in " ".join(info.value.problems)
    assert size() == before


def test_consumers_and_couriers_cannot_capture(
    tx: Tx, examples: Path, epcis_schema: EpcisSchema
) -> None:
    for actor in (CONSUMER, COURIER):
        with pytest.raises(ForbiddenRole):
            with tx() as w:
                capture(w, actor, example(examples, EXAMPLES[0]), schema=epcis_schema)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("eventTime", "2026-13-45T00:00:00Z", "date-time"),
        ("eventTime", "yesterday", "date-time"),
        ("readPoint", {"id": "not a uri"}, "uri"),
    ],
)
def test_bad_date_times_and_uris_are_refused(
    tx: Tx,
    size: Callable[[], int],
    examples: Path,
    epcis_schema: EpcisSchema,
    field: str,
    value: Any,
    fragment: str,
) -> None:
    # Format checks are not on by default in draft-07 validators: EpcisSchema turns them on.
    doc = example(examples, "Example_9.6.1-ObjectEvent.jsonld")
    doc["epcisBody"]["eventList"][0][field] = value
    problems = epcis_schema.problems(doc)
    assert any(
        p.startswith(f"epcisBody/eventList/0/{field}") and fragment in p for p in problems
    ), problems
    before = size()
    with pytest.raises(EpcisInvalid):
        with tx() as w:
            capture(w, LOGISTICS, doc, schema=epcis_schema)
    assert size() == before


def test_the_size_check_counts_the_body_as_rfc8785_would() -> None:
    import rfc8785

    from trace.epcis_capture import _body_size

    event = {"a": 'quote " back \\ slash', "b": "婴儿奶粉 \n\t\u0001", "c": [1, 2.5, None]}
    body = {
        "hash": "ni:///sha-256;00?ver=CBV2.0",
        "objects": [["0123", None, "S\"1", None]],
        "event": rfc8785.dumps(event).decode("utf-8"),
        "context": rfc8785.dumps([{"x": "y\\z"}]).decode("utf-8"),
    }
    assert _body_size(body, ("event", "context")) == len(rfc8785.dumps(body))
    del body["context"]
    assert _body_size(body, ("event", "context")) == len(rfc8785.dumps(body))


def test_lotless_epcs_of_a_document_are_resolved_in_one_query(
    tx: Tx, db_session: Session, stocked: list[str], epcis_schema: EpcisSchema
) -> None:
    from sqlalchemy import event as sa_event

    def observe(serials: list[str], when: str) -> dict[str, Any]:
        return {
            "type": "ObjectEvent",
            "eventTime": when,
            "eventTimeZoneOffset": "+08:00",
            "epcList": [f"https://id.gs1.org/01/{GTIN}/21/{s}" for s in serials],
            "action": "OBSERVE",
            "bizStep": "shipping",
        }

    events = [
        observe(["S0001", "S0002"], "2026-11-28T09:00:00.000+08:00"),
        observe(["S0002", "S0003", "NOPE"], "2026-11-28T09:01:00.000+08:00"),
        observe(["S0001", "S0002"], "2026-11-28T09:00:00.000+08:00"),  # same event again
    ]
    doc = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-28T01:00:00Z",
        "epcisBody": {"eventList": events},
    }
    item_queries: list[str] = []
    engine = db_session.get_bind()

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM trace_items" in statement:
            item_queries.append(statement)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        with tx() as w:
            result = capture(w, LOGISTICS, doc, schema=epcis_schema)
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert [c.status for c in result.events] == ["captured", "captured", "duplicate"]
    assert result.events[2].index == result.events[0].index
    captured = [queries.find_event(db_session, c.index) for c in result.captured]
    assert all(row is not None for row in captured)
    second = queries.item_history(db_session, GTIN, LOT, "S0003").events[-1]
    assert second.entry.body["objects"] == [
        [GTIN, LOT, "S0002", None], [GTIN, LOT, "S0003", None], [GTIN, None, "NOPE", None],
    ]
    capture_lookups = [s for s in item_queries if " IN " in s.upper() and "serial" in s]
    assert len(capture_lookups) == 1, item_queries


@pytest.mark.parametrize(
    "value",
    [
        {"b": 'q"uote \\ 婴\n\t\u0001\u007f\u2028', "a": [True, False, None, 0, -(2**53 - 1)]},
        {"é": "non-ASCII key", "\ue000": 1, "\U0001f600": 2},  # UTF-16 order: rfc8785 path
        {"n": 1.5, "big": 2**53},  # numbers RFC 8785 writes its own way (or refuses)
        ["\ud800"],  # a lone surrogate is refused as rfc8785 refuses it
    ],
)
def test_event_text_is_rfc8785_whichever_encoder_writes_it(value: Any) -> None:
    import rfc8785

    from ledger.errors import EntryError
    from trace.epcis_capture import _canonical_text

    try:
        want: Any = rfc8785.dumps(value).decode("utf-8")
    except Exception:  # noqa: BLE001 - refused either way (as an EntryError here)
        want = EntryError
    try:
        got: Any = _canonical_text(value)
    except EntryError:
        got = EntryError
    assert got == want
