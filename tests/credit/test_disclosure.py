"""Public disclosure: badge data citing the checkpoint, the SVG badge, query by USCC."""

from __future__ import annotations

import base64
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from sqlalchemy.orm import Session

from credit import disclosure, lists, pii, records, scoring, services
from credit.errors import InvalidInput, NotFound
from ledger import note
from ledger.signer import LogSigner
from ledger.store import read_head
from tests.credit.helpers import INSPECTOR, MASTER_KEY, NOW, PLATFORM, USCC_A, Tx, ready_merchant


def test_badge_cites_the_checkpoint_it_was_computed_at(
    tx: Tx, db_session: Session, signer: LogSigner
) -> None:
    merchant = ready_merchant(tx)
    with tx() as w:
        scoring.refresh_grade(w, merchant.id, now=NOW)
    data = disclosure.badge(db_session, merchant.id, NOW)
    head = read_head(db_session)
    assert (data.checkpoint.size, data.checkpoint.root) == (
        head.size, base64.b64encode(head.root).decode())
    assert data.checkpoint.note is not None
    verifier = signer.key.verifier()
    assert isinstance(verifier, note.LogVerifierKey)
    checkpoint = note.verify_checkpoint(data.checkpoint.note, [verifier], signer.origin)
    assert (checkpoint.size, checkpoint.root_hash) == (head.size, head.root)
    assert (data.grade, data.realname_verified, data.commitment) == ("B", True, True)
    assert [m.licence_type for m in data.licences] == ["food_business"]
    assert data.uscc == USCC_A and not data.black_listed


def test_svg_badge_is_chinese_well_formed_and_escapes_names(tx: Tx, db_session: Session) -> None:
    with tx() as w:
        subject = services.register_subject(w, PLATFORM, "merchant", "<好&味>食品店", USCC_A, now=NOW)
        entry = lists.propose_list_entry(w, INSPECTOR, subject.id, "black", "售假", "总局令第44号",
                                         now=NOW)
        lists.decide_list_entry(w, INSPECTOR, entry.id, True, "同意", now=NOW)
        scoring.refresh_grade(w, subject.id, now=NOW)
    svg = disclosure.render_badge_svg(disclosure.badge(db_session, subject.id, NOW))
    root = ElementTree.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = "".join(root.itertext())
    assert "<好&味>食品店" in text and "信用等级 D" in text and "失信黑名单" in text
    assert "✗实名认证" in text and "账本检查点 #" in text
    assert disclosure.render_badge_svg(disclosure.badge(db_session, subject.id, NOW)) == svg


def test_query_by_uscc_shows_published_records_only(tx: Tx, db_session: Session) -> None:
    merchant = ready_merchant(tx)
    with tx() as w:
        published = records.add_record(
            w, INSPECTOR, merchant.id, polarity="negative", source="regulator", basis="食品安全法",
            facts="标签不合格", severity="general", decided_at=NOW, now=NOW, authority="某局")
        records.add_record(w, INSPECTOR, merchant.id, polarity="negative", source="regulator",
                           basis="警告", facts="轻微", severity="minor", decided_at=NOW, now=NOW)
    answer = disclosure.disclose(db_session, uscc=USCC_A.lower(), now=NOW + timedelta(days=1))
    assert [r.id for r in answer.records] == [published.id]
    assert answer.badge.subject_id == merchant.id
    assert answer.checkpoint == answer.badge.checkpoint
    with pytest.raises(NotFound):
        disclosure.disclose(db_session, uscc="91310110666007217T", now=NOW)
    with pytest.raises(InvalidInput):
        disclosure.disclose(db_session, now=NOW)


def test_individuals_show_a_real_name_mark_never_their_details(tx: Tx, db_session: Session) -> None:
    with tx() as w:
        seller = services.register_subject(
            w, PLATFORM, "individual_seller", "三哥小铺",
            real_name=pii.RealName("张三", "11010519491231002X"), now=NOW, master_key=MASTER_KEY)
        services.verify_identity(w, PLATFORM, seller.id, method="face+id_card", now=NOW)
    data = disclosure.badge(db_session, seller.id, NOW)
    svg = disclosure.render_badge_svg(data)
    assert data.realname_verified and data.uscc is None
    assert "✓实名认证" in svg and "张三" not in svg and "1101051949" not in svg
