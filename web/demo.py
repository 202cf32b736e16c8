"""``flask demo load``: a demo world built through the same services that users call.

One food producer in Suining with a valid 统一社会信用代码, a food production licence
and a credit commitment; a product and a batch with printed, signed labels and a
passed inspection; a platform with a merchant shop; a logistics company and its
courier.  Items walk the life: one listed, sold, paid, shipped, delivered, signed
and reviewed; one with an upheld complaint and advance compensation from the
platform's consumer-protection fund; one whose label was cloned and scanned in
Suining and Qingdao; the rest still in stock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from sqlalchemy import select

from credit import complaints, fund, scoring
from credit import errors as credit_errors
from credit import services as credit
from credit.models import Subject
from credit.pii import RealName
from labels.signing import sign_label
from ledger.actor import Actor
from trace import label_keys, print_runs, queries, scans, services as trace
from trace.events import Opening, commit
from trace.identifiers import item_subject
from web import printing
from web.auth import create_account, issue_token, revoke_tokens
from web.db import get_session
from web.glue import master_key, now, writing

__all__ = ["demo_cli", "DEMO_USCC", "GTIN", "LOT"]

demo_cli = AppGroup("demo", help="A demo world for local use.")

# Valid codes built for the demo (GB 32100 check character and GB 11714 inside);
# 510900 is 遂宁市, 370200 is 青岛市.
DEMO_USCC = {
    "producer": "91510900MA6D2E7112", "platform": "91510900MA6D2E72XR",
    "merchant": "91370200MA3D2E732U", "logistics": "91510900MA6D2E746L",
    "inspection": "91510900MA6D2E754F",
}
COURIER = RealName("张快递", "510902199001011231", phone="13800000000")  # 船山区; GB 11643 check 1
GTIN, LOT = "06901234567892", "SN2026A"  # GS1 China prefix 690; check digit 2
ADMIN = Actor("operator:demo-admin", "admin")
ROLES = ("admin", "producer", "platform", "merchant", "logistics", "courier", "inspector")
_TOKEN_LABEL = "demo"
DEMO_PASSWORD = "demo-password-2026"  # printed by `flask demo load`: local demo only


@dataclass
class World:
    """The ids of the demo's parties and items."""

    ids: dict[str, str] = field(default_factory=dict)
    items: dict[str, str] = field(default_factory=dict)  # serial -> what it shows

    def actor(self, role: str) -> Actor:
        return ADMIN if role == "admin" else Actor(self.ids[role], role)


def _parties(world: World, at: datetime) -> None:
    with writing() as w:
        for role, kind, name in (("producer", "producer", "遂宁天然饮品有限公司"),
                                 ("platform", "platform", "川青优选电商平台"),
                                 ("merchant", "merchant", "青岛海边好物旗舰店"),
                                 ("logistics", "logistics", "遂宁顺达物流有限公司"),
                                 ("inspector", "inspection_body", "遂宁市食品检验检测中心")):
            uscc = DEMO_USCC["inspection" if role == "inspector" else role]
            world.ids[role] = credit.register_subject(w, ADMIN, kind, name, uscc=uscc,
                                                      now=at).id
        world.ids["courier"] = credit.register_subject(
            w, ADMIN, "courier", "张快递", real_name=COURIER, now=at,
            master_key=master_key().encode()).id
        for role in ("producer", "merchant", "logistics", "courier"):
            credit.verify_identity(w, ADMIN, world.ids[role], method="营业执照/身份证核验", now=at)
        year = timedelta(days=365)
        credit.add_licence(w, ADMIN, world.ids["producer"], "food_production", "SC10651090300123",
                           "遂宁市市场监督管理局", at - year, at + 4 * year, now=at)
        credit.add_licence(w, ADMIN, world.ids["merchant"], "food_business", "JY13702020012345",
                           "青岛市市场监督管理局", at - year, at + 4 * year, now=at)
        for role in ("producer", "merchant", "platform", "logistics"):
            credit.make_commitment(w, ADMIN, world.ids[role], now=at)


def _product(world: World, at: datetime) -> print_runs.PrintRun:
    producer, inspector = world.actor("producer"), world.actor("inspector")
    with writing() as w:
        trace.register_product(w, producer, gtin=GTIN, name="遂宁天然矿泉水 550ml",
                               name_en="Suining natural mineral water 550 ml", category="food")
        trace.create_batch(w, producer, gtin=GTIN, lot=LOT, production_date=at.date(),
                           expiry_date=(at + timedelta(days=365)).date())
        trace.record_event(w, inspector, "inspection", {
            "gtin": GTIN, "lot": LOT, "result": "pass", "report_no": "SNJC-2026-0815",
            "inspecting_body": "遂宁市食品检验检测中心"})
    return printing.reserve(producer, GTIN, LOT, 6)


def _sell(world: World, serial: str, order: str) -> tuple[dict[str, str], str]:
    """List, sell, pay, ship, deliver and sign for one item; return its key and signer opening."""
    item = {"gtin": GTIN, "lot": LOT, "serial": serial}
    buyer, _ = commit(f"buyer-{order}", _salt("buyer", order))
    signer, opening = commit(f"receiver-{order}", _salt("receiver", order))
    merchant, courier = world.actor("merchant"), world.actor("courier")
    with writing() as w:
        steps: list[tuple[Actor, str, dict[str, Any]]] = [
            (merchant, "listing", {"platform": world.ids["platform"],
                                   "shop_id": world.ids["merchant"], "listing_id": f"SKU-{serial}"}),
            (merchant, "sale", {"order_id": order, "buyer_commitment": buyer,
                                "price_cents": 350, "currency": "CNY"}),
            (world.actor("platform"), "payment", {"institution": "网联清算", "reference": f"PAY-{order}",
                                                  "amount_cents": 350, "currency": "CNY"}),
            (world.actor("logistics"), "shipment", {"waybill": f"SD{order}", "carrier": "遂宁顺达物流",
                                                    "weight_g": 600, "place": "遂宁"}),
            (courier, "delivery_scan", {"place": "青岛"}),
            (courier, "signing", {"signer_commitment": signer, "place": "青岛"}),
        ]
        for actor, kind, fields in steps:
            trace.record_event(w, actor, kind, item | fields)
    return item, f"{opening.salt}:{opening.value}"


def _salt(role: str, order: str) -> str:
    # Deterministic for the demo only, so its receipt codes can be printed on every load;
    # real commitments take a fresh 256-bit salt (trace.events.commit).
    return hashlib.sha256(f"demo {role} {order}".encode()).hexdigest()


def receipt_code(order: str) -> str:
    """Return the demo receipt code (the opening of the signer's commitment) of ``order``."""
    return f"{_salt('receiver', order)}:receiver-{order}"


ORDERS = {1: "DD20261128001", 2: "DD20261128002"}


def _build(at: datetime) -> World:
    world = World()
    _parties(world, at)
    run = _product(world, at)
    serials = print_runs.serials_of(run)
    consumer = Actor("consumer:demo", "consumer")
    # 1: the whole life, reviewed by the person who signed for it.
    item, opening = _sell(world, serials[0], ORDERS[1])
    salt, value = opening.split(":", 1)
    with writing() as w:
        trace.record_event(w, consumer, "review", item | {"rating": 5, "text": "水质清甜，物流很快"},
                           proof=Opening(salt, value))
    world.items[serials[0]] = "完整流程：上架、售出、支付、发货、配送、签收、评价"
    # 2: an upheld complaint, paid in advance by the platform's fund.
    item, opening = _sell(world, serials[1], ORDERS[2])
    salt, value = opening.split(":", 1)
    platform = world.actor("platform")
    with writing() as w:
        index = trace.record_event(w, consumer, "complaint", item | {
            "text": "瓶盖破损，有渗漏", "category": "quality"}, proof=Opening(salt, value))
        case = complaints.file_complaint(
            w, platform, kind="complaint", item_key=item_subject(GTIN, LOT, serials[1]),
            merchant_id=world.ids["merchant"], complainant_id="consumer:demo",
            category="quality", text="瓶盖破损，有渗漏", now=at, claim_fen=350)
        complaints.answer_complaint(w, world.actor("merchant"), case.id, "同意退款", now=at)
        complaints.decide_complaint(w, platform, case.id, "upheld", "商品破损属实",
                                    now=at, severity="minor")
        fund.deposit(w, platform, world.ids["platform"], 1_000_000, now=at, note="消费者权益保障金")
        claim = fund.open_claim(w, platform, case.id, platform_id=world.ids["platform"], now=at)
        fund.pay_claim(w, platform, claim.id, now=at)
        trace.record_event(w, platform, "compensation", item | {
            "amount_cents": 350, "currency": "CNY", "complaint_index": index})
    world.items[serials[1]] = "投诉成立，平台先行赔付"
    # 3: a cloned label, scanned in Suining and then in Qingdao.
    session = get_session()
    subject = item_subject(GTIN, LOT, serials[2])
    for hours, city in ((1, "遂宁"), (2, "遂宁"), (26, "青岛"), (27, "青岛"), (28, "成都")):
        scans.record_scan(session, subject, city, at + timedelta(hours=hours))
    session.commit()
    world.items[serials[2]] = "标签被复制：在遂宁和青岛被扫描"
    for serial in serials[3:]:
        world.items[serial] = "在库，尚未上架"
    with writing() as w:
        for role in ("producer", "merchant", "platform", "logistics"):
            scoring.refresh_grade(w, world.ids[role], now=at)
    return world


def _existing() -> World | None:
    """Return the ids of an already loaded demo world, or None."""
    session = get_session()
    world = World()
    try:
        for role, key in (("producer", "producer"), ("platform", "platform"),
                          ("merchant", "merchant"), ("logistics", "logistics"),
                          ("inspector", "inspection")):
            world.ids[role] = credit.find_by_uscc(session, DEMO_USCC[key]).id
    except credit_errors.NotFound:
        return None
    world.ids["courier"] = session.scalars(
        select(Subject.id).where(Subject.kind == "courier", Subject.name == COURIER.name)
    ).one()
    return world


@demo_cli.command("load")
@click.option("--base-url", default=None, help="Base URL printed in demo links.")
def load(base_url: str | None) -> None:
    """Load the demo world (once) and print its label links and one token per role."""
    base = (base_url or current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    world = _existing()
    if world is None:
        world = _build(now())
        click.echo("# demo world loaded")
    else:
        click.echo("# demo world already loaded; new tokens issued")
    session = get_session()
    run = print_runs.runs_of(session, world.ids["producer"])[-1]
    pdf = Path(current_app.instance_path) / "demo-labels.pdf"
    if not pdf.exists():
        printing.render_to_file(session.merge(run), pdf, "pdf")
    key = label_keys.signing_key(session, run.producer, master_key())
    batch = queries.find_batch(session, GTIN, LOT)
    expiry = batch["expiry_date"] if batch else None
    click.echo(f"# labels (printable sheet: {pdf})")
    for serial in print_runs.serials_of(run):
        click.echo(f"#  {serial}: {world.items.get(serial, _story(serial))}")
        if int(serial) in ORDERS:
            click.echo(f"#  receipt code (签收码) for review/complaint: {receipt_code(ORDERS[int(serial)])}")
        click.echo(sign_label(GTIN, LOT, serial, key, expiry=expiry).uri(base))
    click.echo("# API tokens, one per role (send as 'Authorization: Bearer <token>')")
    for role in ROLES:
        actor = world.actor(role)
        revoke_tokens(session, actor.id, _TOKEN_LABEL)
        click.echo(f"{role} {issue_token(session, actor, _TOKEN_LABEL)}")
    click.echo(f"# console logins ({base}/console/login), for local use only")
    for role in ("producer", "inspector"):
        create_account(session, f"demo-{role}", DEMO_PASSWORD, world.actor(role))
        click.echo(f"#  demo-{role} / {DEMO_PASSWORD}")
    session.commit()


_STORIES = {1: "完整流程：上架、售出、支付、发货、配送、签收、评价", 2: "投诉成立，平台先行赔付",
            3: "标签被复制：在遂宁和青岛被扫描"}


def _story(serial: str) -> str:
    return _STORIES.get(int(serial), "在库，尚未上架")
