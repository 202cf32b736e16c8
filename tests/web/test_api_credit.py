"""The credit API's acts over HTTP: complaints to escalation, the fund, ratings, lists, score.

Subjects are registered over HTTP; each token acts for the credit subject it was issued
for (a merchant's token names the merchant's subject id), as ``flask tokens issue`` does.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from credit import complaints
from ledger import store
from ledger.actor import Actor
from ledger.sequencer import write_transaction
from ledger.signer import LogSigner
from tests.credit.helpers import USCC_A, USCC_B, USCC_PLATFORM
from trace.events import Opening, commit
from web.auth import issue_token

GTIN = "06901234567892"
LOT = "L2026A"


class Api:
    def __init__(self, client: FlaskClient, tokens: dict[str, str]) -> None:
        self.client, self.tokens = client, tokens
        self.ids: dict[str, str] = {}

    def _headers(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}

    def post(self, path: str, role: str, body: Any = None, status: int = 201) -> Any:
        response = self.client.post(f"/api/v1{path}", json=body, headers=self._headers(role))
        assert response.status_code == status, response.get_data(as_text=True)
        return response.json

    def get(self, path: str, role: str | None = None, status: int = 200) -> Any:
        response = self.client.get(f"/api/v1{path}", headers=self._headers(role))
        assert response.status_code == status, response.get_data(as_text=True)
        return response.json


@pytest.fixture
def api(client: FlaskClient, db_session: Session) -> Api:
    """Register a platform and two merchants over HTTP; issue a token per party."""
    api = Api(client, {"admin": issue_token(db_session, Actor("admin:1", "admin"))})
    db_session.commit()
    for name, kind, uscc in (("platform", "platform", USCC_PLATFORM),
                             ("merchant", "merchant", USCC_A), ("other", "merchant", USCC_B)):
        api.ids[name] = api.post("/subjects", "admin", {"kind": kind, "name": f"某{name}",
                                                         "uscc": uscc})["id"]
    actors = {"platform": Actor(api.ids["platform"], "platform"),
              "merchant": Actor(api.ids["merchant"], "merchant"),
              "other": Actor(api.ids["other"], "merchant"),
              "producer": Actor("subject:producer-1", "producer"),
              "logistics": Actor("subject:express-1", "logistics"),
              "courier": Actor("subject:courier-1", "courier"),
              "inspector": Actor("inspector:1", "inspector"),
              "consumer": Actor("consumer:1", "consumer")}
    api.tokens |= {role: issue_token(db_session, actor) for role, actor in actors.items()}
    db_session.commit()
    return api


def _deliver(api: Api, serials: list[str], unsigned: tuple[str, ...] = ()) -> dict[str, Opening]:
    """Produce the serials; list, sell, ship and sign for each (but ``unsigned``) as O-<serial>."""
    api.post("/products", "producer", {"gtin": GTIN, "name": "遂宁矿泉水 550ml", "category": "food"})
    api.post("/batches", "producer", {"gtin": GTIN, "lot": LOT, "production_date": "2026-11-01",
                                      "expiry_date": "2027-11-01"})
    api.post("/serials", "producer", {"gtin": GTIN, "lot": LOT, "serials": serials})
    buyer, buyer_opening = commit("buyer-account-123")
    signer, signer_opening = commit("13800000000")
    for serial in serials:
        item = {"gtin": GTIN, "lot": LOT, "serial": serial}
        api.post("/events", "merchant", item | {"kind": "listing", "platform": api.ids["platform"],
                                               "shop_id": "shop-1", "listing_id": f"L-{serial}"})
        api.post("/events", "merchant", item | {"kind": "sale", "order_id": f"O-{serial}",
                                               "buyer_commitment": buyer, "price_cents": 12_800,
                                               "currency": "CNY"})
        api.post("/events", "logistics", item | {"kind": "shipment", "waybill": f"SF{serial}",
                                                "carrier": "顺丰", "weight_g": 600})
        if serial not in unsigned:
            api.post("/events", "courier", item | {"kind": "signing", "signer_commitment": signer})
    return {"buyer": buyer_opening, "signer": signer_opening}


def _proof(opening: Opening) -> dict[str, str]:
    return {"salt": opening.salt, "value": opening.value}


def _complaint(opening: Opening | None, serial: str = "S1", kind: str = "complaint",
               **extra: Any) -> dict[str, Any]:
    body = {"kind": kind, "gtin": GTIN, "lot": LOT, "serial": serial, "category": "quality",
            "text": "收到的商品已过期"} | extra
    return body | ({"proof": _proof(opening)} if opening else {})


def _upheld_complaint(api: Api, openings: dict[str, Opening]) -> str:
    case = api.post("/complaints", "consumer", _complaint(openings["buyer"], claim_fen=12_800))
    api.post(f"/complaints/{case['id']}/decision", "platform",
             {"outcome": "upheld", "reason": "销售过期食品属实"}, status=200)
    return str(case["id"])


def test_a_complaint_is_filed_with_the_buyers_opening_answered_and_upheld(api: Api) -> None:
    openings = _deliver(api, ["S1"])
    case = api.post("/complaints", "consumer", _complaint(openings["buyer"], claim_fen=12_800))
    assert case["status"] == "open" and "text" not in case  # the filer sees the public view
    full = api.get(f"/items/{GTIN}/{LOT}/S1/complaints", "merchant")["complaints"][0]
    assert full["complainant_id"] == commit(openings["buyer"].value, openings["buyer"].salt)[0]
    assert full["merchant_id"] == api.ids["merchant"] and full["text"] == "收到的商品已过期"
    filed, due = (datetime.fromisoformat(full[k]) for k in ("filed_at", "answer_due"))
    assert due - filed == timedelta(days=3)
    refused = api.post(f"/complaints/{case['id']}/answer", "other", {"text": "不是我们"}, status=403)
    assert refused["code"] == "auth.not_own_subject"
    answered = api.post(f"/complaints/{case['id']}/answer", "merchant", {"text": "同意退款"},
                        status=200)
    assert answered["status"] == "answered"
    decided = api.post(f"/complaints/{case['id']}/decision", "platform",
                       {"outcome": "upheld", "reason": "属实"}, status=200)
    assert decided["outcome"] == "upheld" and decided["record_id"]
    public = api.get(f"/items/{GTIN}/{LOT}/S1/complaints")["complaints"]
    assert [c["status"] for c in public] == ["decided"]
    assert not {"text", "complainant_id", "answer"} & set(public[0])


def test_a_signers_opening_also_files_a_complaint(api: Api) -> None:
    openings = _deliver(api, ["S1"])
    case = api.post("/complaints", "consumer", _complaint(openings["signer"]))
    assert case["kind"] == "complaint"


def test_a_complaint_without_a_matching_opening_is_refused_and_nothing_is_written(
    api: Api, db_session: Session
) -> None:
    _deliver(api, ["S1"])
    size = store.read_head(db_session).size
    _, stranger = commit("someone-else")
    for body in (_complaint(stranger), _complaint(None)):
        problem = api.post("/complaints", "consumer", body, status=403)
        assert problem["code"] == "trace.proof_mismatch"
    db_session.expire_all()
    assert store.read_head(db_session).size == size


def test_a_report_may_be_anonymous_but_then_claims_nothing(api: Api) -> None:
    _deliver(api, ["S1"])
    report = api.post("/complaints", "consumer", _complaint(None, kind="report"))
    seen = api.get(f"/items/{GTIN}/{LOT}/S1/complaints", "platform")["complaints"]
    assert [(c["id"], c["kind"], c["complainant_id"]) for c in seen] == [
        (report["id"], "report", "anonymous")]
    problem = api.post("/complaints", "consumer", _complaint(None, kind="report", claim_fen=1),
                       status=400)
    assert problem["code"] == "request.invalid_body"


def test_escalation_endpoint_sends_a_complaint_filed_eight_days_ago_by_the_service_to_the_regulator(
    api: Api, db_session: Session, signer: LogSigner
) -> None:
    # Over HTTP the clock is the real one, so the old complaint is filed at service level.
    fresh = api.post("/complaints", "consumer", _complaint(_deliver(api, ["S1"])["buyer"]))
    with write_transaction(db_session, signer) as writer:
        old = complaints.file_complaint(
            writer, Actor("consumer:1", "consumer"), kind="complaint",
            item_key=f"01/{GTIN}/10/{LOT}/21/S1", merchant_id=api.ids["merchant"],
            complainant_id="c" * 64, category="quality", text="未发货",
            now=datetime.now(timezone.utc) - timedelta(days=8))
    refused = api.post("/complaints/escalate-overdue", "merchant", status=403)
    assert refused["code"] == "auth.forbidden_role"
    answer = api.post("/complaints/escalate-overdue", "inspector", status=200)
    assert [(c["id"], c["status"], c["escalation_reason"]) for c in answer["escalated"]] == [
        (old.id, "escalated", "answer_overdue")]
    assert fresh["id"] not in {c["id"] for c in answer["escalated"]}
    problem = api.post(f"/complaints/{old.id}/decision", "platform",
                       {"outcome": "upheld", "reason": "属实"}, status=403)
    assert problem["code"] == "credit.forbidden"
    decided = api.post(f"/complaints/{old.id}/decision", "inspector",
                       {"outcome": "upheld", "reason": "未按约定发货属实"}, status=200)
    assert decided["status"] == "decided"
    assert api.post("/complaints/escalate-overdue", "inspector", status=200)["count"] == 0


def test_advance_compensation_is_paid_before_the_merchant_and_recovered_later(api: Api) -> None:
    platform = api.ids["platform"]
    api.post(f"/funds/{platform}/deposits", "platform", {"amount_fen": 50_000, "note": "保证金"})
    api.post(f"/funds/{platform}/deposits", "merchant", {"amount_fen": 1}, status=403)
    case = _upheld_complaint(api, _deliver(api, ["S1"]))
    claim = api.post("/claims", "platform", {"complaint_id": case, "platform_id": platform})
    assert (claim["amount_fen"], claim["status"]) == (12_800, "open")
    paid = api.post(f"/claims/{claim['id']}/payout", "platform", status=200)
    assert (paid["status"], paid["paid_fen"], paid["recovered_fen"]) == ("paid", 12_800, 0)
    balance = api.get(f"/funds/{platform}", "platform")
    assert balance["balance_fen"] == balance["ledger_balance_fen"] == 50_000 - 12_800
    api.post(f"/claims/{claim['id']}/recovery", "platform", {"amount_fen": 5_000}, status=200)
    done = api.post(f"/claims/{claim['id']}/recovery", "platform", {"amount_fen": 7_800},
                    status=200)
    assert done["status"] == "recovered"
    balance = api.get(f"/funds/{platform}", "inspector")
    assert balance["balance_fen"] == balance["ledger_balance_fen"] == 50_000
    again = api.post(f"/claims/{claim['id']}/recovery", "platform", {"amount_fen": 1}, status=409)
    assert again["code"] == "credit.conflict"
    assert api.get(f"/funds/{platform}", "merchant", status=403)["code"] == "auth.forbidden_role"


def test_a_rating_by_a_non_party_or_before_signing_is_refused_with_403(api: Api) -> None:
    openings = _deliver(api, ["S1", "S2"], unsigned=("S2",))
    _, stranger = commit("someone-else")
    buyer_id = commit(openings["buyer"].value, openings["buyer"].salt)[0]
    rating = {"order_id": "O-S1", "gtin": GTIN, "lot": LOT, "serial": "S1",
              "direction": "buyer_to_seller", "ratee_id": api.ids["merchant"], "value": "good"}
    for role, body in (("consumer", rating | {"proof": _proof(stranger)}),
                       ("consumer", rating | {"proof": _proof(openings["signer"])}),
                       ("consumer", rating | {"ratee_id": api.ids["other"],
                                              "proof": _proof(openings["buyer"])}),
                       ("consumer", rating | {"order_id": "O-S2", "serial": "S2",
                                              "proof": _proof(openings["buyer"])}),
                       ("other", rating | {"direction": "seller_to_buyer",
                                           "ratee_id": buyer_id})):
        assert api.post("/ratings", role, body, status=403)["code"] == "credit.not_a_party"
    made = api.post("/ratings", "consumer", rating | {"proof": _proof(openings["buyer"]),
                                                      "dsr": {"described": 5, "service": 4}})
    assert (made["rater_id"], made["points"], made["counted"]) == (buyer_id, 1, True)
    api.post(f"/ratings/{made['id']}/follow-up", "consumer",
             {"text": "用了一周，质量很好", "proof": _proof(openings["buyer"])})
    carrier = api.post("/ratings", "consumer", rating | {
        "direction": "buyer_to_logistics", "ratee_id": "subject:express-1",
        "proof": _proof(openings["buyer"])})
    assert carrier["ratee_id"] == "subject:express-1"
    back = api.post("/ratings", "merchant", rating | {"direction": "seller_to_buyer",
                                                      "ratee_id": buyer_id})
    assert back["rater_id"] == api.ids["merchant"]
    summary = api.get(f"/subjects/{api.ids['merchant']}/ratings")
    assert (summary["good"], summary["points"], summary["dsr"]["described"]) == (1, 1, [5.0, 1])


def test_a_list_proposal_is_decided_and_changes_the_subjects_effects(api: Api) -> None:
    merchant = api.ids["merchant"]
    proposal = {"subject_id": merchant, "list": "black", "reason": "销售假冒伪劣商品",
                "basis": "总局令第44号"}
    assert api.post("/lists/proposals", "merchant", proposal, status=403)["code"] == \
        "auth.forbidden_role"
    entry = api.post("/lists/proposals", "inspector", proposal)
    assert entry["status"] == "proposed"
    assert api.post("/lists/proposals", "inspector", proposal, status=409)["code"] == \
        "credit.conflict"
    decided = api.post(f"/lists/entries/{entry['id']}/decision", "inspector",
                       {"approved": True, "note": "证据充分"}, status=200)
    assert decided["status"] == "active" and decided["earliest_removal"] < decided["auto_end"]
    effects = api.get(f"/subjects/{merchant}/effects")
    assert effects["black_listed"] and effects["shop_closed"] and effects["ranking_factor"] == 0
    early = api.post(f"/lists/entries/{entry['id']}/remove", "inspector", {"reason": "整改"},
                     status=409)
    assert early["code"] == "credit.too_early"
    assert api.post("/lists/proposals/automatic", "merchant", status=403)["code"] == \
        "auth.forbidden_role"
    assert api.post("/lists/proposals/automatic", "inspector", status=200)["count"] == 0


def test_the_score_lists_every_contribution_and_a_party_sees_only_its_own(api: Api) -> None:
    merchant = api.ids["merchant"]
    record = api.post("/records", "inspector", {
        "subject_id": merchant, "polarity": "negative", "source": "regulator",
        "severity": "general", "basis": "食品安全法 第34条", "facts": "销售过期食品",
        "authority": "某市市场监管局", "decision_no": "市监罚〔2026〕12号"})
    score = api.get(f"/subjects/{merchant}/score", "merchant")
    kinds = [(c["kind"], c["ref"]) for c in score["contributions"]]
    assert kinds == [("base", None), ("record", record["id"])]
    assert score["score"] == sum(c["points"] for c in score["contributions"]) < 75
    assert all(c["zh"] and c["en"] for c in score["contributions"])
    refused = api.get(f"/subjects/{merchant}/score", "other", status=403)
    assert refused["code"] == "auth.not_own_subject"
    assert api.get(f"/subjects/{merchant}/score", "consumer", status=403)
    assert api.post(f"/subjects/{merchant}/grade/refresh", "merchant", status=403)
    graded = api.post(f"/subjects/{merchant}/grade/refresh", "inspector", status=200)
    assert graded["grade"] == score["grade"]


def test_a_minor_record_is_repaired_on_the_subjects_application(api: Api) -> None:
    record = api.post("/records", "inspector", {
        "subject_id": api.ids["merchant"], "polarity": "negative", "source": "regulator",
        "severity": "minor", "basis": "广告法 第9条", "facts": "页面用语不规范"})
    assert api.post(f"/records/{record['id']}/repair", "other", {"evidence": ["整改报告"]},
                    status=403)["code"] == "auth.not_own_subject"
    repair = api.post(f"/records/{record['id']}/repair", "merchant", {"evidence": ["整改报告"]})
    assert repair["status"] == "pending"
    api.post(f"/repairs/{repair['id']}/decision", "platform", {"approved": True, "reason": "x"},
             status=403)
    decided = api.post(f"/repairs/{repair['id']}/decision", "inspector",
                       {"approved": True, "reason": "已整改"}, status=200)
    assert decided["status"] == "approved"


def test_licences_commitments_and_verifications(api: Api) -> None:
    merchant = api.ids["merchant"]
    licence = {"licence_type": "food_business", "number": "JY13301060001234",
               "issuer": "杭州市市场监管局", "valid_from": "2026-01-01T00:00:00+08:00",
               "valid_until": "2031-01-01T00:00:00+08:00"}
    made = api.post(f"/subjects/{merchant}/licences", "platform", licence)
    assert made["status"] == "valid"
    assert api.post(f"/subjects/{merchant}/licences", "platform", licence, status=409)
    assert api.post(f"/subjects/{merchant}/licences", "merchant", licence, status=403)
    revoked = api.post(f"/licences/{made['id']}/revoke", "inspector", {"reason": "吊销"}, status=200)
    assert revoked["status"] == "revoked"
    assert api.post(f"/licences/{made['id']}/revoke", "inspector", {"reason": "again"}, status=409)
    assert api.get(f"/subjects/{merchant}/commitments/active")["commitment"] is None
    assert api.post(f"/subjects/{api.ids['other']}/commitments", "merchant", {},
                    status=403)["code"] == "auth.not_own_subject"
    commitment = api.post(f"/subjects/{merchant}/commitments", "merchant", {})
    assert commitment["text"]["template"] == commitment["template_version"]
    active = api.get(f"/subjects/{merchant}/commitments/active")["commitment"]
    assert active["id"] == commitment["id"] and active["text"]["clauses"]
    verified = api.post(f"/subjects/{merchant}/verification", "platform",
                        {"method": "business_licence"}, status=200)
    assert verified["identity"] == "verified"
    held = api.post("/subjects", "admin", {"kind": "merchant", "name": "厦门某店",
                                           "uscc": "91350211M00013FA1N", "attest": True})
    assert held["status"] == "pending_verification"
    resolved = api.post(f"/subjects/{held['id']}/verification/resolve", "inspector",
                        {"accepted": True, "note": "营业执照原件核对一致"}, status=200)
    assert resolved["status"] == "active"


@pytest.mark.parametrize("path,role,body", [
    ("/records", "inspector", {"subject_id": "x", "polarity": "negative", "source": "regulator",
                               "basis": "b", "facts": "f", "evil": 1}),
    ("/records", "inspector", {"subject_id": "x", "polarity": "sideways", "source": "regulator",
                               "basis": "b", "facts": "f"}),
    ("/complaints", "consumer", _complaint(None, text="长" * 2001)),
    ("/complaints", "consumer", _complaint(None) | {"proof": {"salt": "XYZ", "value": "v"}}),
    ("/funds/nope/deposits", "platform", {"amount_fen": 0}),
    ("/funds/nope/deposits", "platform", {"amount_fen": 1.5}),
    ("/ratings", "consumer", {"order_id": "o", "gtin": GTIN, "lot": LOT, "serial": "S1",
                              "direction": "buyer_to_seller", "ratee_id": "m", "value": "good",
                              "dsr": {"described": 6}}),
    ("/lists/proposals", "inspector", {"subject_id": "x" * 33, "list": "black", "reason": "r",
                                       "basis": "b"}),
    ("/subjects/nope/licences", "platform", {"licence_type": "food_business"}),
    ("/subjects/nope/verification", "platform", {"method": "m", "valid_for_days": 0}),
    ("/subjects/nope/commitments", "merchant", []),
])
def test_bad_bodies_are_400_problems_listing_what_is_wrong(api: Api, path: str, role: str,
                                                           body: Any) -> None:
    response = api.client.post(f"/api/v1{path}", json=body, headers=api._headers(role))
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == "request.invalid_body" and problem["problems"]


@pytest.mark.parametrize("method,path,role,body,code", [
    ("POST", "/licences/nope/revoke", "inspector", {"reason": "r"}, "credit.not_found"),
    ("POST", "/subjects/nope/licences", "platform", {
        "licence_type": "food_business", "number": "1", "issuer": "i",
        "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2027-01-01T00:00:00Z"},
     "credit.not_found"),
    ("POST", "/subjects/nope/verification", "platform", {"method": "m"}, "credit.not_found"),
    ("GET", "/subjects/nope/commitments/active", None, None, "credit.not_found"),
    ("POST", "/records/nope/repair", "merchant", {"evidence": ["e"]}, "credit.not_found"),
    ("POST", "/repairs/nope/decision", "inspector", {"approved": True, "reason": "r"},
     "credit.not_found"),
    ("POST", "/complaints/nope/answer", "merchant", {"text": "t"}, "credit.not_found"),
    ("POST", "/complaints/nope/decision", "platform", {"outcome": "upheld", "reason": "r"},
     "credit.not_found"),
    ("GET", f"/items/{GTIN}/{LOT}/NOPE/complaints", None, None, "trace.not_found"),
    ("POST", "/eligibility", "platform", {"merchant": "nope", "gtin": "06901234000009"},
     "trace.not_found"),
    ("POST", "/ratings/nope/follow-up", "consumer", {"text": "t"}, "credit.not_found"),
    ("GET", "/subjects/nope/ratings", None, None, "credit.not_found"),
    ("POST", "/lists/entries/nope/decision", "inspector", {"approved": True, "note": "n"},
     "credit.not_found"),
    ("POST", "/lists/entries/nope/remove", "inspector", {"reason": "r"}, "credit.not_found"),
    ("GET", "/subjects/nope/effects", None, None, "credit.not_found"),
    ("GET", "/subjects/nope/score", "inspector", None, "credit.not_found"),
    ("POST", "/subjects/nope/grade/refresh", "inspector", None, "credit.not_found"),
    ("POST", "/funds/nope/deposits", "admin", {"amount_fen": 1}, "credit.not_found"),
    ("POST", "/claims/nope/payout", "platform", None, "credit.not_found"),
    ("POST", "/claims/nope/recovery", "platform", {"amount_fen": 1}, "credit.not_found"),
    ("GET", "/funds/nope", "inspector", None, "credit.not_found"),
])
def test_unknown_ids_are_404_problems(api: Api, method: str, path: str, role: str | None,
                                      body: Any, code: str) -> None:
    problem = (api.post(path, str(role), body, status=404) if method == "POST"
               else api.get(path, role, status=404))
    assert problem["code"] == code


def test_an_unknown_complaint_for_a_claim_is_404(api: Api) -> None:
    problem = api.post("/claims", "platform", {"complaint_id": "nope",
                                               "platform_id": api.ids["platform"]}, status=404)
    assert problem["code"] == "credit.not_found"


def _loose(schema: Any, where: str) -> list[str]:
    """Return where a request schema accepts more than it should (unbounded or open)."""
    if not isinstance(schema, dict):
        return []
    found = []
    if schema.get("type") == "string" and "maxLength" not in schema:
        found.append(f"{where}: string without maxLength")
    if schema.get("type") == "integer" and not {"minimum", "maximum"} <= set(schema):
        found.append(f"{where}: integer without bounds")
    if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
        found.append(f"{where}: object open to additional properties")
    for name, sub in schema.get("properties", {}).items():
        found += _loose(sub, f"{where}.{name}")
    return found + _loose(schema.get("items"), f"{where}[]")


def test_every_credit_request_body_is_strict_in_the_openapi_document(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    loose: list[str] = []
    bodies = 0
    for path, methods in paths.items():
        for method, op in methods.items():
            if "credit" in op["tags"] and "requestBody" in op:
                bodies += 1
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                loose += _loose(schema, f"{method.upper()} {path}")
    assert bodies >= 20 and loose == []
