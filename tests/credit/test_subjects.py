"""Registration, real-name verification, personal data, licences and commitments."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
import rfc8785
from sqlalchemy import select
from sqlalchemy.orm import Session

from credit import pii, services
from credit.errors import BadRealName, BadUSCC, Conflict, Duplicate, Erased, Forbidden, InvalidInput
from credit.models import PiiKey
from ledger.models import LogEntry
from ledger.store import entries_of
from tests.credit.helpers import (ADMIN, CONSUMER, INSPECTOR, MASTER_KEY, MERCHANT, NOW, PLATFORM,
                                  USCC_A, Tx)

# GB 11643 example resident ID (its check character is right; not a real person).
PERSON = pii.RealName("张三", "11010519491231002X")


def test_register_organisation_appends_an_entry_on_its_chain(tx: Tx, db_session: Session) -> None:
    with tx() as w:
        subject = services.register_subject(w, PLATFORM, "merchant", " 好味食品店 ", USCC_A, now=NOW)
    assert (subject.kind, subject.name, subject.uscc, subject.status) == (
        "merchant", "好味食品店", USCC_A, "active")
    [entry] = entries_of(db_session, f"subject:{subject.id}")
    body = json.loads(entry.data)["body"]
    assert entry.kind == "credit.subject_registered" and body["uscc"] == USCC_A
    assert services.find_by_uscc(db_session, USCC_A.lower()).id == subject.id


def test_register_refuses_a_failing_uscc_with_its_reason(tx: Tx, db_session: Session) -> None:
    with pytest.raises(BadUSCC) as caught, tx() as w:
        services.register_subject(w, PLATFORM, "merchant", "某店", "91350211M00013FA1N", now=NOW)
    assert caught.value.reason == "check_char"
    assert db_session.scalar(select(LogEntry.idx)) is None  # nothing written


def test_attested_failing_uscc_is_held_for_manual_verification(tx: Tx) -> None:
    with tx() as w:
        held = services.register_subject(w, PLATFORM, "merchant", "厦门某店", "91350211M00013FA1N",
                                         attest=True, now=NOW)
    assert (held.status, held.uscc_problem) == ("pending_verification", "check_char")
    with pytest.raises(Conflict), tx() as w:
        services.verify_identity(w, PLATFORM, held.id, method="licence", now=NOW)
    with pytest.raises(Forbidden), tx() as w:
        services.resolve_verification(w, PLATFORM, held.id, True, "checked", now=NOW)
    with tx() as w:
        assert services.resolve_verification(w, INSPECTOR, held.id, True, "营业执照原件核对一致",
                                             now=NOW).status == "active"


def test_attesting_cannot_save_a_malformed_uscc(tx: Tx) -> None:
    with pytest.raises(BadUSCC) as caught, tx() as w:
        services.register_subject(w, PLATFORM, "merchant", "某店", "9135021100013FA1N", attest=True,
                                  now=NOW)
    assert caught.value.reason == "length"


def test_register_refuses_duplicates_wrong_roles_and_kinds(tx: Tx) -> None:
    with tx() as w:
        services.register_subject(w, PLATFORM, "merchant", "好味食品店", USCC_A, now=NOW)
    with pytest.raises(Duplicate), tx() as w:
        services.register_subject(w, PLATFORM, "producer", "同码工厂", USCC_A, now=NOW)
    with pytest.raises(Forbidden), tx() as w:
        services.register_subject(w, CONSUMER, "merchant", "某店", "91310110666007217T", now=NOW)
    with pytest.raises(Forbidden), tx() as w:
        services.register_subject(w, MERCHANT, "platform", "某平台", "91310110666007217T", now=NOW)
    with pytest.raises(InvalidInput), tx() as w:
        services.register_subject(w, PLATFORM, "wizard", "某店", "91310110666007217T", now=NOW)
    with pytest.raises(InvalidInput), tx() as w:
        services.register_subject(w, PLATFORM, "merchant", "某店", now=NOW)  # no USCC


def test_individual_is_registered_by_a_commitment_never_in_clear(
    tx: Tx, db_session: Session
) -> None:
    with tx() as w:
        seller = services.register_subject(w, PLATFORM, "individual_seller", "三哥小铺",
                                           real_name=PERSON, now=NOW, master_key=MASTER_KEY)
    raw = b"".join(e.data for e in db_session.scalars(select(LogEntry)))
    assert "张三".encode() not in raw and b"11010519491231002X" not in raw
    opened = pii.open_real_name(db_session, MASTER_KEY, seller.id)
    assert opened.details == PERSON
    assert opened.commitment == seller.realname_commitment
    data = rfc8785.dumps({"name": "张三", "id_number": "11010519491231002X",
                          "id_type": "resident_id", "phone": None})
    expected = hashlib.sha256(b"credit/realname/v1\x00" + opened.salt + data).hexdigest()
    assert seller.realname_commitment == expected


def test_the_same_person_cannot_register_twice(tx: Tx) -> None:
    with tx() as w:
        services.register_subject(w, PLATFORM, "individual_seller", "三哥小铺", real_name=PERSON,
                                  now=NOW, master_key=MASTER_KEY)
    with pytest.raises(Duplicate), tx() as w:
        services.register_subject(w, PLATFORM, "courier", "张师傅", real_name=PERSON, now=NOW,
                                  master_key=MASTER_KEY)


def test_bad_resident_id_is_refused(tx: Tx) -> None:
    with pytest.raises(BadRealName), tx() as w:
        services.register_subject(w, PLATFORM, "individual_seller", "某铺",
                                  real_name=pii.RealName("李四", "110105194912310021"), now=NOW,
                                  master_key=MASTER_KEY)


def test_erasure_destroys_the_key_and_keeps_every_hash(tx: Tx, db_session: Session) -> None:
    with tx() as w:
        seller = services.register_subject(w, PLATFORM, "individual_seller", "三哥小铺",
                                           real_name=PERSON, now=NOW, master_key=MASTER_KEY)
    before = [(e.idx, e.leaf_hash) for e in db_session.scalars(select(LogEntry))]
    with pytest.raises(Forbidden), tx() as w:
        services.erase_personal_data(w, PLATFORM, seller.id, "用户注销", now=NOW)
    with tx() as w:
        erased = services.erase_personal_data(w, ADMIN, seller.id, "用户注销", now=NOW)
    assert erased.pii_erased and erased.status == "closed"
    assert db_session.get(PiiKey, seller.id) is None
    with pytest.raises(Erased):
        pii.open_real_name(db_session, MASTER_KEY, seller.id)
    after = [(e.idx, e.leaf_hash) for e in db_session.scalars(select(LogEntry))]
    assert after[: len(before)] == before
    # the person may register again: the blind index went with the data
    with tx() as w:
        services.register_subject(w, PLATFORM, "individual_seller", "三哥新铺", real_name=PERSON,
                                  now=NOW, master_key=MASTER_KEY)


def test_a_wrong_master_key_does_not_open_the_details(tx: Tx, db_session: Session) -> None:
    with tx() as w:
        seller = services.register_subject(w, PLATFORM, "individual_seller", "三哥小铺",
                                           real_name=PERSON, now=NOW, master_key=MASTER_KEY)
    with pytest.raises(Exception) as caught:
        pii.open_real_name(db_session, b"x" * 32, seller.id)
    assert getattr(caught.value, "code", "") == "credit.pii_key"


def test_verification_is_due_again_after_the_interval(tx: Tx) -> None:
    with tx() as w:
        subject = services.register_subject(w, PLATFORM, "merchant", "好味食品店", USCC_A, now=NOW)
    assert services.identity_status(subject, NOW) == "unverified"
    with tx() as w:
        services.verify_identity(w, PLATFORM, subject.id, method="business_licence", now=NOW,
                                 valid_for=timedelta(days=30))
    assert services.identity_status(subject, NOW + timedelta(days=29)) == "verified"
    assert services.identity_status(subject, NOW + timedelta(days=30)) == "overdue"


def test_expired_and_revoked_licences_are_missing(tx: Tx, db_session: Session) -> None:
    with tx() as w:
        subject = services.register_subject(w, PLATFORM, "merchant", "好味食品店", USCC_A, now=NOW)
        licence = services.add_licence(w, PLATFORM, subject.id, "food_business", "JY13101100000001",
                                       "某区市场监管局", NOW - timedelta(days=1),
                                       NOW + timedelta(days=10), now=NOW)
    assert services.valid_licences(db_session, subject.id, NOW) == [licence]
    assert services.valid_licences(db_session, subject.id, NOW + timedelta(days=10)) == []
    with pytest.raises(Duplicate), tx() as w:
        services.add_licence(w, PLATFORM, subject.id, "food_business", "JY13101100000001", "x",
                             NOW, NOW + timedelta(days=1), now=NOW)
    with tx() as w:
        services.revoke_licence(w, INSPECTOR, licence.id, "吊销", now=NOW)
    assert services.valid_licences(db_session, subject.id, NOW) == []


def test_commitment_is_public_versioned_and_hashes_its_text(tx: Tx, db_session: Session) -> None:
    with tx() as w:
        subject = services.register_subject(w, PLATFORM, "merchant", "好味食品店", USCC_A, now=NOW)
        commitment = services.make_commitment(w, MERCHANT, subject.id, now=NOW,
                                              valid_until=NOW + timedelta(days=365))
    entry = entries_of(db_session, f"subject:{subject.id}")[-1]
    body = json.loads(entry.data)["body"]
    text = services.commitment_text("self_discipline")
    assert body["template"] == "credit-commitment/1" and body["public"] is True
    assert "consent_to_publication" in body["clauses"] and "accept_punishment" in body["clauses"]
    assert body["text_sha256"] == hashlib.sha256(rfc8785.dumps(text)).hexdigest()
    assert services.active_commitment(db_session, subject.id, NOW) == commitment
    assert services.active_commitment(db_session, subject.id, NOW + timedelta(days=365)) is None


def test_reading_real_name_details_is_itself_a_ledger_entry(tx: Tx, db_session: Session) -> None:
    with tx() as w:
        seller = services.register_subject(w, PLATFORM, "individual_seller", "三哥小铺",
                                           real_name=PERSON, now=NOW, master_key=MASTER_KEY)
    with pytest.raises(Forbidden), tx() as w:
        services.reveal_real_name(w, PLATFORM, seller.id, "好奇", now=NOW, master_key=MASTER_KEY)
    with tx() as w:
        opened = services.reveal_real_name(w, INSPECTOR, seller.id, "投诉调查 complaint 42", now=NOW,
                                           master_key=MASTER_KEY)
    assert opened.details == PERSON
    entry = entries_of(db_session, f"subject:{seller.id}")[-1]
    assert entry.kind == "credit.pii_accessed" and "张三".encode() not in entry.data
    assert json.loads(entry.data)["actor"] == INSPECTOR.id
