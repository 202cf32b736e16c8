#!/usr/bin/env python3
"""Credit benchmark: listing-eligibility and badge latency at a million credit subjects.

Not a test: it prints a table of figures next to their targets.  Run from the checkout::

    python bench/credit_bench.py                       # SQLite (+ PostgreSQL if DATABASE_URL)
    python bench/credit_bench.py --db both --pg-url postgresql+psycopg://postgres@127.0.0.1/test
    python bench/credit_bench.py --quick               # small smoke run (under a minute)

PostgreSQL: the URL names a server and a database to connect to for administration; the
benchmark creates a database of its own (``bench_credit_<random>``) on that server and drops
it at the end, even after an error.  SQLite: a file in a temporary folder, removed at the end.

The database is filled by bulk Core inserts (``connection.execute(insert(table), rows)``)
straight into the ``credit_*`` tables, created from ``web.models.metadata`` by
``create_all``, NOT through the credit services and the ledger: the goal is the read path.
With the default ``--subjects 1000000`` it holds about

- 1,000,000 subjects (``credit_subjects``): merchants, individual sellers, producers and a
  few others; 92 % active, the rest pending verification, closed or rejected; real name
  verified (due date ahead), overdue, unverified, or erased (individuals);
- 1,000,000 licences: 0-3 per trading subject, of the 8 licence types, some expired, some
  not yet valid, some revoked;
- 1,000,000 commitments: most subjects one active, some breached, expired or none;
- 1,000,000 credit records (``credit_records``): 0-4 per subject, negative and positive,
  with their publication windows, Chinese basis/facts text;
- 110,000 list entries: 50,000 active black-list entries, expired/removed/proposed/
  rejected black ones, 30,000 red;
- 700,000 grades (``credit_grades``) and a ledger head row, which the badge reads.

Ids are random 64-bit hex strings as ``credit._entries.new_id`` makes them, so lookups hit
random places in the indexes.  After the fill the database settles (PostgreSQL:
``VACUUM (ANALYZE)`` of the credit tables, what autovacuum does anyway; SQLite: WAL
checkpoint); the database is then warm (in the OS page cache), as on a running server.

What is measured, each call in a fresh ``Session`` (as in a web request), timing only the
call:

- ``credit.eligibility.check_eligibility(session, merchant_id, ProductFacts(...), now)``
  p50/p99 over ``--calls`` random merchants, for an *eligible* mix (registered, active,
  verified, a valid licence for the product's category, an active commitment, not black
  listed; clean product facts) and an *ineligible* mix (90 % refused for reasons in the
  database, 5 % unknown merchant ids, 5 % refused for product facts only).  Every answer is
  checked against the reasons the generator expects; a mismatch is reported.
- ``credit.disclosure.badge(session, subject_id, now)`` p50/p99 on random subjects (no
  target).

The p99 includes waiting for a core: the machine is shared, so every row shows the load
average, and the per-call CPU time of this process (``time.thread_time``) is reported next
to the wall time to tell work from waiting.
"""

from __future__ import annotations

import argparse
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import common
from common import Backend, Results, load_avg, percentile

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy  # noqa: E402
from sqlalchemy import Engine, MetaData, event, insert, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from credit import rules  # noqa: E402
from credit.disclosure import badge  # noqa: E402
from credit.eligibility import ProductFacts, check_eligibility  # noqa: E402

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
CHUNK = 10_000  # subjects (and their dependent rows) per fill transaction
SAMPLE_TARGET = 40_000  # subjects whose expected answers are kept for drawing the mixes
WARMUP = 100

# name -> (comparison, threshold, unit, databases the target applies to)
TARGETS: common.Targets = {
    "elig_p99_eligible": ("<", 20.0, "ms", ("sqlite", "postgres")),
    "elig_p99_ineligible": ("<", 20.0, "ms", ("sqlite", "postgres")),
}

CREDIT_TABLES = ("credit_subjects", "credit_licences", "credit_commitments", "credit_records",
                 "credit_list_entries", "credit_grades")


def metadata() -> MetaData:
    """Return the service's schema (web/models.py), or the credit and ledger tables alone."""
    return common.service_metadata("credit.models", "ledger.models")


# --------------------------------------------------------------------------- data

# licence type -> the product category it allows (rules.PRODUCT_CATEGORIES)
LICENCE_CATEGORY = {lic: key for key, cat in rules.PRODUCT_CATEGORIES.items()
                    for lic in cat.licences}
LICENCE_WEIGHTS = {"food_business": 45, "food_production": 12, "industrial_product": 10,
                   "cosmetics_production": 8, "medical_device_business": 8, "drug_business": 7,
                   "medical_device_production": 4, "drug_production": 3}
assert set(LICENCE_WEIGHTS) == set(rules.LICENCE_TYPES)
KIND_WEIGHTS = {"merchant": 55, "individual_seller": 30, "producer": 10, "logistics": 2,
                "courier": 2, "platform": 0.5, "inspection_body": 0.3, "credit_agency": 0.2}
TRADERS = {"merchant", "individual_seller", "producer"}
STATUS_WEIGHTS = {"active": 92, "pending_verification": 4, "closed": 3, "rejected": 1}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
PLACES = ["杭州", "义乌", "广州", "深圳", "成都", "武汉", "南京", "苏州", "青岛", "西安"]
TRADES = ["食品", "日用百货", "母婴用品", "化妆品", "医疗器械", "茶叶", "服饰", "数码配件"]
AUTHORITIES = [f"{p}市市场监督管理局" for p in PLACES] + ["平台治理中心", "人民法院"]
BASES = ["《中华人民共和国食品安全法》第一百二十四条", "《中华人民共和国电子商务法》第七十五条",
         "《中华人民共和国产品质量法》第四十九条", "《网络交易监督管理办法》第四十七条",
         "平台规则第3.2条"]
FACTS = ["经营标签不符合规定的预包装食品，责令改正并处罚款。",
         "销售的商品经抽检不合格，已下架并召回。",
         "未按规定公示营业执照信息，经责令限期改正逾期未改正。",
         "虚构交易、编造用户评价，误导消费者。",
         "获评年度诚信经营示范店铺。"]


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(64):016x}"


def _days(rng: random.Random, lo: int, hi: int) -> timedelta:
    return timedelta(days=rng.randint(lo, hi), seconds=rng.randrange(86_400))


@dataclass(frozen=True)
class Truth:
    """What the generator knows about a subject, enough to predict its eligibility."""

    id: str
    active: bool
    identity: str  # verified | overdue | unverified
    licence_types: frozenset[str]  # held (valid or not): what the merchant trades in
    valid_types: frozenset[str]  # valid at NOW
    commitment: bool
    black: bool

    def reasons(self, category: str) -> set[str]:
        found = set()
        if not self.active:
            found.add("subject.inactive")
        if self.identity != "verified":
            found.add("realname.overdue" if self.identity == "overdue" else "realname.unverified")
        needs = rules.PRODUCT_CATEGORIES[category].licences
        if needs and not (self.valid_types & set(needs)):
            found.add("licence.missing")
        if not self.commitment:
            found.add("commitment.missing")
        if self.black:
            found.add("list.blacklisted")
        return found


class CreditFactory:
    """Deterministic rows for the credit tables, ``CHUNK`` subjects at a time."""

    def __init__(self, subjects: int, seed: int) -> None:
        self.subjects = subjects
        self.rng = random.Random(seed)
        self.serial = 0
        self.sample_p = min(1.0, SAMPLE_TARGET / max(subjects, 1))
        self.sample: list[Truth] = []

    def _next(self) -> int:
        self.serial += 1
        return self.serial

    def chunk(self, count: int) -> dict[str, list[dict[str, Any]]]:
        rng = self.rng
        out: dict[str, list[dict[str, Any]]] = {t: [] for t in CREDIT_TABLES}
        for _ in range(count):
            sid = _hex(rng)
            kind = _pick(rng, KIND_WEIGHTS)
            org = kind in rules.ORGANISATION_KINDS
            status = _pick(rng, STATUS_WEIGHTS)
            registered = NOW - _days(rng, 30, 2_000)
            ident = "unverified" if status == "pending_verification" else _pick(
                rng, {"verified": 88, "overdue": 7, "unverified": 3, "erased": 2})
            if ident == "erased" and org:
                ident = "unverified"
            verified_at = due = None
            if ident in ("verified", "erased"):
                verified_at = NOW - _days(rng, 1, 360)
            elif ident == "overdue":
                verified_at = NOW - _days(rng, 370, 900)
            if verified_at is not None:
                due = verified_at + rules.REVERIFY_INTERVAL
            name = (f"{rng.choice(PLACES)}{rng.choice(SURNAMES)}记{rng.choice(TRADES)}"
                    f"{'有限公司' if org else '店'}")
            out["credit_subjects"].append(dict(
                id=sid, kind=kind, name=name, uscc=f"9133{self._next():014d}" if org else None,
                status=status, uscc_problem=None, registered_at=registered,
                registered_by="platform:tmall", realname_commitment=f"{rng.getrandbits(256):064x}",
                verified_at=verified_at, verified_by="inspector:rn-01" if verified_at else None,
                verification_method="face+id_card" if verified_at else None,
                verification_due=due, pii_erased=ident == "erased"))
            held, valid = self._licences(out, sid, kind)
            commitment = self._commitments(out, sid, registered)
            self._records(out, sid)
            black = self._lists(out, sid)
            if rng.random() < 0.7:
                out["credit_grades"].append(dict(
                    subject_id=sid, grade=rng.choice("AABBBBCD"), score=rng.randint(20, 100),
                    computed_at=NOW - _days(rng, 0, 30),
                    contributions=[{"code": "base", "points": 75},
                                   {"code": "ratings", "points": rng.randint(-10, 10)}],
                    rules_version=rules.RULES_VERSION, entry_index=rng.randrange(10_000_000)))
            if rng.random() < self.sample_p:
                self.sample.append(Truth(sid, status == "active",
                                         "unverified" if ident == "erased" else ident,
                                         frozenset(held), frozenset(valid), commitment, black))
        return out

    def _licences(self, out: dict[str, list[dict[str, Any]]], sid: str,
                  kind: str) -> tuple[set[str], set[str]]:
        rng = self.rng
        held: set[str] = set()
        valid: set[str] = set()
        if kind not in TRADERS:
            return held, valid
        for _ in range(rng.choices((0, 1, 2, 3), weights=(30, 45, 18, 7))[0]):
            ltype = _pick(rng, LICENCE_WEIGHTS)
            state = rng.choices(("ok", "expired", "future"), weights=(85, 13, 2))[0]
            if state == "ok":
                since, until = NOW - _days(rng, 30, 1_800), NOW + _days(rng, 1, 1_800)
            elif state == "expired":
                until = NOW - _days(rng, 1, 900)
                since = until - timedelta(days=1_825)
            else:
                since = NOW + _days(rng, 1, 60)
                until = since + timedelta(days=1_825)
            revoked = rng.random() < 0.04
            held.add(ltype)
            if state == "ok" and not revoked:
                valid.add(ltype)
            prefix = "SC" if "production" in ltype else "JY"
            out["credit_licences"].append(dict(
                id=_hex(rng), subject_id=sid, licence_type=ltype,
                number=f"{prefix}{self._next():014d}", issuer=rng.choice(AUTHORITIES[:-2]),
                valid_from=since, valid_until=until, status="revoked" if revoked else "valid",
                added_at=since + timedelta(days=1),
                revoked_at=NOW - _days(rng, 1, 200) if revoked else None, xk=None))
        return held, valid

    def _commitments(self, out: dict[str, list[dict[str, Any]]], sid: str,
                     registered: datetime) -> bool:
        rng = self.rng
        shape = rng.choices(("active", "breached", "breached+active", "none"),
                            weights=(88, 5, 4, 3))[0]
        ok = False
        for status in {"active": ["active"], "breached": ["breached"],
                       "breached+active": ["breached", "active"], "none": []}[shape]:
            until = rng.choices((None, "future", "past"), weights=(70, 25, 5))[0]
            valid_until = (None if until is None
                           else NOW + _days(rng, 1, 700) if until == "future"
                           else NOW - _days(rng, 1, 300))
            if status == "active" and (valid_until is None or valid_until > NOW):
                ok = True
            out["credit_commitments"].append(dict(
                id=_hex(rng), subject_id=sid, template_version=rules.COMMITMENT_TEMPLATE_VERSION,
                commitment_type=rng.choice(("domain", "scenario", "voluntary", "self_discipline")),
                text_sha256=f"{rng.getrandbits(256):064x}", made_at=registered + timedelta(days=1),
                made_by=f"merchant:{sid}", valid_until=valid_until, status=status,
                breached_at=NOW - _days(rng, 1, 300) if status == "breached" else None,
                breach_record_id=None))
        return ok

    def _records(self, out: dict[str, list[dict[str, Any]]], sid: str) -> None:
        rng = self.rng
        for _ in range(rng.choices((0, 1, 2, 3, 4), weights=(42, 30, 16, 8, 4))[0]):
            positive = rng.random() < 0.2
            severity = None if positive else rng.choice(rules.SEVERITIES)
            start = NOW - _days(rng, 0, 1_500)
            months = (rules.POSITIVE_RECORD_MONTHS if positive
                      else rules.PUBLICATION[severity].maximum)  # type: ignore[index]
            minimum = 0 if positive else rules.PUBLICATION[severity].minimum  # type: ignore[index]
            source = rng.choice(rules.RECORD_SOURCES)
            serial = self._next()
            out["credit_records"].append(dict(
                id=_hex(rng), subject_id=sid, polarity="positive" if positive else "negative",
                source=source, severity=severity, basis=rng.choice(BASES), facts=rng.choice(FACTS),
                authority=rng.choice(AUTHORITIES), decision_no=f"市监处罚〔2026〕{serial}号",
                decided_at=start - timedelta(days=3),
                public=positive or severity != "minor", start=start,
                earliest_repair=start + timedelta(days=30 * minimum),
                end=start + timedelta(days=30 * months),
                status=rng.choices(("active", "repaired", "withdrawn"), weights=(85, 12, 3))[0],
                closed_at=None, commitment_id=None,
                complaint_id=None,
                external_key=f"sgs:cf:{serial}" if source == "regulator" else None, cf=None,
                recorded_by="inspector:rn-01", rules_version=rules.RULES_VERSION))

    def _lists(self, out: dict[str, list[dict[str, Any]]], sid: str) -> bool:
        rng = self.rng
        roll = rng.random()
        black = False
        shapes: list[tuple[str, str, str]] = []  # (kind, status, when)
        if roll < 0.05:
            shapes.append(("black", "active", "now"))
            black = True
        elif roll < 0.06:
            shapes.append(("black", "active", "ended"))
        elif roll < 0.07:
            shapes.append(("black", "removed", "now"))
        elif roll < 0.075:
            shapes.append(("black", "proposed", "none"))
        elif roll < 0.08:
            shapes.append(("black", "rejected", "none"))
        elif roll < 0.11:
            shapes.append(("red", "active", "now"))
        for kind, status, when in shapes:
            proposed = NOW - _days(rng, 0, 1_000)
            start = auto_end = earliest = None
            duration = rules.BLACK_LIST if kind == "black" else rules.RED_LIST
            if when == "now":
                start = NOW - _days(rng, 0, 30 * duration.duration - 2)
            elif when == "ended":
                start = NOW - _days(rng, 30 * duration.duration + 1, 1_500)
            if start is not None:
                earliest = start + timedelta(days=30 * duration.earliest_removal)
                auto_end = start + timedelta(days=30 * duration.duration)
            out["credit_list_entries"].append(dict(
                id=_hex(rng), subject_id=sid, list_kind=kind, status=status,
                reason="严重违法失信" if kind == "black" else "连续守信经营",
                basis="《市场监督管理严重违法失信名单管理办法》第二条",
                trigger={"records": [_hex(rng)], "rule": "serious>=2"},
                proposed_at=proposed, proposed_by="system",
                decided_at=start, decided_by="inspector:rn-01" if start else None,
                decision_note=None, start=start, earliest_removal=earliest, auto_end=auto_end,
                removed_at=NOW - _days(rng, 1, 30) if status == "removed" else None,
                removal_reason="信用修复" if status == "removed" else None,
                rules_version=rules.RULES_VERSION))
        return black


# --------------------------------------------------------------------------- databases


class SqliteBackend(common.SqliteBackend):
    """The file ``path`` (and its -wal, -shm), removed first by ``fresh``."""

    def __init__(self, path: Path) -> None:
        super().__init__(metadata)
        self._path = path

    def fresh(self) -> None:
        for old in self._path.parent.glob(self._path.name + "*"):
            old.unlink()
        self.url = f"sqlite:///{self._path}"
        self.create_schema()

    def size(self) -> int:
        return sum(p.stat().st_size for p in self._path.parent.glob(self._path.name + "*"))


class PostgresBackend(common.PostgresBackend):
    """``bench_credit_<random>``."""

    def __init__(self, admin_url: str) -> None:
        super().__init__(admin_url, f"bench_credit_{secrets.token_hex(4)}", metadata)

    def settle(self) -> None:
        """VACUUM ANALYZE the filled tables (what autovacuum does anyway after a big fill)."""
        self.vacuum((*CREDIT_TABLES, "ledger_head"))

    def size(self) -> int:
        with self.admin.connect() as conn:
            return int(conn.execute(text("SELECT pg_database_size(:d)"),
                                    {"d": self.database}).scalar())


# --------------------------------------------------------------------------- measurements


profiled = partial(common.profiled, top=22)


class StatementCounter:
    """Counts the statements an engine sends (SELECTs apart), optionally keeping them."""

    def __init__(self, engine: Engine) -> None:
        self.selects = 0
        self.other = 0
        self.keep: list[tuple[str, Any]] | None = None
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any,
              _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            self.selects += 1
            if self.keep is not None:
                self.keep.append((statement, parameters))
        else:
            self.other += 1


def fill(backend: Backend, factory: CreditFactory, results: Results) -> Counter[str]:
    """Bulk-insert the credit tables with Core, ``CHUNK`` subjects per transaction."""
    engine = backend.engine()
    tables = metadata().tables
    counts: Counter[str] = Counter()
    start = time.perf_counter()
    with engine.begin() as conn:  # the ledger head the badge cites
        conn.execute(insert(tables["ledger_head"]), [dict(
            id=1, origin="bench.trace.local/log", size=4_812_345, root=bytes(range(32)),
            frontier=b"", checkpoint="bench.trace.local/log\n4812345\nAAECAwQFBgcICQoLDA0ODxAR"
            "EhMUFRYXGBkaGxwdHh8=\n\n— bench.trace.local/log Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp"
            "+ZJurmRDeOoRDe4URYN7u1/AJ+lw8Hrn/HdfmMzvp1oCd5J0T3BGqw1jxCA0bX0IzZ4OAwqwOkrHTs4=\n")])
    done = 0
    while done < factory.subjects:
        n = min(CHUNK, factory.subjects - done)
        rows = factory.chunk(n)
        with engine.begin() as conn:
            for name in CREDIT_TABLES:  # parents first (foreign keys are on in SQLite)
                if rows[name]:
                    conn.execute(insert(tables[name]), rows[name])
                    counts[name] += len(rows[name])
        done += n
        if sys.stdout.isatty():
            print(f"    filled {done:,} subjects", end="\r", flush=True)
    if sys.stdout.isatty():
        print(" " * 40, end="\r")
    elapsed = time.perf_counter() - start
    engine.dispose()
    total = sum(counts.values())
    results.add(backend, "fill_s", f"fill {total:,} rows (Core bulk insert)", elapsed, "s",
                f"({total / elapsed:,.0f} rows/s)")
    print("    rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()), flush=True)
    return counts


@dataclass
class Call:
    subject_id: str
    category: str
    facts: ProductFacts
    expected: set[str]
    kind: str  # what the mix entry is, for the composition note


def _facts(category: str, **bad: bool) -> ProductFacts:
    return ProductFacts(category=category, has_production=not bad.get("no_production", False),
                        has_inspection=not bad.get("no_inspection", False),
                        batch_recalled=bad.get("recalled", False),
                        batch_expired=bad.get("expired", False))


def _category_for(rng: random.Random, truth: Truth) -> str:
    """The category a merchant lists: mostly one it holds a licence for, else any."""
    held = sorted({LICENCE_CATEGORY[t] for t in truth.licence_types})
    if held and rng.random() < 0.8:
        return rng.choice(held)
    if rng.random() < 0.25:
        return "general"
    return rng.choice([c for c in rules.PRODUCT_CATEGORIES if c != "general"])


def make_mixes(sample: list[Truth], calls: int, seed: int) -> tuple[list[Call], list[Call]]:
    rng = random.Random(seed)
    good: list[tuple[Truth, str]] = []
    bad: list[tuple[Truth, str, set[str]]] = []
    for truth in sample:
        category = _category_for(rng, truth)
        reasons = truth.reasons(category)
        if reasons:
            bad.append((truth, category, reasons))
        else:
            good.append((truth, category))
    eligible = []
    for _ in range(calls):
        truth, category = rng.choice(good)
        eligible.append(Call(truth.id, category, _facts(category), set(), "eligible"))
    ineligible = []
    for _ in range(calls):
        roll = rng.random()
        if roll < 0.05:
            category = rng.choice(list(rules.PRODUCT_CATEGORIES))
            ineligible.append(Call(_hex(rng), category, _facts(category), {"subject.unknown"},
                                   "subject.unknown"))
        elif roll < 0.10:
            truth, category = rng.choice(good)
            problem = rng.choice(["recalled", "expired", "no_production"])
            code = {"recalled": "batch.recalled", "expired": "batch.expired",
                    "no_production": "product.no_production"}[problem]
            ineligible.append(Call(truth.id, category, _facts(category, **{problem: True}),
                                   {code}, "product facts only"))
        else:
            truth, category, reasons = rng.choice(bad)
            ineligible.append(Call(truth.id, category, _facts(category), set(reasons),
                                   "+".join(sorted(reasons))))
    return eligible, ineligible


def run_calls(sm: sessionmaker[Session], fns: Sequence[Callable[[Session], Any]],
              check: Callable[[int, Any], str | None] | None = None
              ) -> tuple[list[float], list[float], list[str]]:
    """Run each ``fn(session)`` in a fresh session; time the call only (wall and CPU ms)."""
    wall, cpu, errors = [], [], []
    for i, fn in enumerate(fns):
        with sm() as session:
            c0 = time.thread_time()
            t0 = time.perf_counter()
            result = fn(session)
            t1 = time.perf_counter()
            c1 = time.thread_time()
        wall.append((t1 - t0) * 1000)
        cpu.append((c1 - c0) * 1000)
        if check is not None:
            problem = check(i, result)
            if problem:
                errors.append(problem)
    return wall, cpu, errors


def explain(engine: Engine, counter: StatementCounter, sm: sessionmaker[Session],
            fn: Callable[[Session], Any], backend: Backend) -> list[str]:
    """Capture the SELECTs of one ``fn(session)`` call and return their query plans."""
    counter.keep = []
    with sm() as session:
        fn(session)
    captured, counter.keep = counter.keep, None
    out = []
    with engine.connect() as conn:
        for statement, params in captured:
            first = " ".join(statement.split())[:90]
            if backend.name == "sqlite":
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).fetchall()
                plan = "; ".join(str(r[-1]) for r in rows)
            else:
                rows = conn.exec_driver_sql("EXPLAIN " + statement, params).fetchall()
                plan = " / ".join(str(r[0]).strip() for r in rows
                                  if "Scan" in str(r[0]) or "Index" in str(r[0]))
            out.append(f"{first} ... -> {plan}")
    return out


# --------------------------------------------------------------------------- driver


@dataclass
class Plan:
    subjects: int
    calls: int
    badge_calls: int


def run_backend(backend: Backend, plan: Plan, results: Results, profile: bool) -> None:
    print(f"\n== {backend.label} {backend.version()}  (load {load_avg()})", flush=True)
    backend.fresh()
    factory = CreditFactory(plan.subjects, seed=20261128)
    counts = fill(backend, factory, results)
    results.notes.append(
        f"{backend.label}: rows " + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        + " (+1 ledger_head); filled with bulk Core inserts, not through the credit services")
    start = time.perf_counter()
    backend.settle()
    print(f"    settled in {time.perf_counter() - start:.1f} s; database size "
          f"{backend.size() / 2**20:,.0f} MiB", flush=True)
    results.notes.append(f"{backend.label}: database size {backend.size() / 2**20:,.0f} MiB")

    engine = backend.engine()
    counter = StatementCounter(engine)
    sm = sessionmaker(engine, expire_on_commit=False)
    eligible, ineligible = make_mixes(factory.sample, plan.calls, seed=7)
    composition = Counter(code for c in ineligible for code in c.expected)
    results.notes.append(f"ineligible mix, reason codes over {len(ineligible)} calls (a call "
                         "may have several): " + ", ".join(
                             f"{k} {v}" for k, v in composition.most_common()))

    call = next(c for c in eligible if rules.PRODUCT_CATEGORIES[c.category].licences)
    print("    query plans, check_eligibility (eligible merchant):")
    for line in explain(engine, counter, sm,
                        lambda s: check_eligibility(s, call.subject_id, call.facts, NOW), backend):
        print(f"      {line}")
    print("    query plans, badge:")
    for line in explain(engine, counter, sm, lambda s: badge(s, call.subject_id, NOW), backend):
        print(f"      {line}")

    def elig(call: Call) -> Callable[[Session], Any]:
        return lambda s: check_eligibility(s, call.subject_id, call.facts, NOW)

    def checker(mix: list[Call]) -> Callable[[int, Any], str | None]:
        def check(i: int, answer: Any) -> str | None:
            got = {r.code for r in answer.reasons}
            if got != mix[i].expected or answer.eligible != (not mix[i].expected):
                return f"{mix[i].subject_id} {mix[i].category}: expected " \
                       f"{sorted(mix[i].expected)}, got {sorted(got)}"
            return None
        return check

    for key, title, mix in (("eligible", "eligible mix", eligible),
                            ("ineligible", "ineligible mix", ineligible)):
        run_calls(sm, [elig(c) for c in mix[:WARMUP]])  # warm the pool and statement caches
        before = counter.selects
        with profiled(profile, f"{backend.label} check_eligibility, {title}"):
            wall, cpu, errors = run_calls(sm, [elig(c) for c in mix], checker(mix))
        per_call = (counter.selects - before) / len(mix)
        results.add(backend, f"elig_p50_{key}", f"check_eligibility p50, {title}",
                    percentile(wall, 50), "ms", f"(cpu {percentile(cpu, 50):.2f})")
        results.add(backend, f"elig_p99_{key}", f"check_eligibility p99, {title}",
                    percentile(wall, 99), "ms", f"(cpu {percentile(cpu, 99):.2f})")
        results.add(backend, f"elig_max_{key}", f"check_eligibility max, {title}",
                    max(wall), "ms", f"(mean {statistics.fmean(wall):.2f}, "
                    f"{per_call:.2f} SELECT/call)")
        if errors:
            print(f"    {len(errors)} unexpected answers, e.g. " + "; ".join(errors[:3]))
            results.notes.append(f"{backend.label} {title}: {len(errors)} of {len(mix)} answers "
                                 f"differ from the generator's expectation, e.g. {errors[0]}")
        else:
            results.notes.append(f"{backend.label} {title}: all {len(mix)} answers as expected")

    rng = random.Random(11)
    ids = [rng.choice(factory.sample) for _ in range(plan.badge_calls + WARMUP)]
    truth_of = ids[WARMUP:]

    def check_badge(i: int, answer: Any) -> str | None:
        t = truth_of[i]
        if answer.black_listed != t.black or answer.realname_verified != (t.identity == "verified"):
            return f"{t.id}: badge black={answer.black_listed} verified={answer.realname_verified}"
        return None

    run_calls(sm, [lambda s, t=t: badge(s, t.id, NOW) for t in ids[:WARMUP]])
    before = counter.selects
    with profiled(profile, f"{backend.label} badge"):
        wall, cpu, errors = run_calls(sm, [lambda s, t=t: badge(s, t.id, NOW) for t in truth_of],
                                      check_badge)
    per_call = (counter.selects - before) / len(truth_of)
    results.add(backend, "badge_p50", "badge p50, random subjects", percentile(wall, 50), "ms",
                f"(cpu {percentile(cpu, 50):.2f})")
    results.add(backend, "badge_p99", "badge p99, random subjects", percentile(wall, 99), "ms",
                f"(cpu {percentile(cpu, 99):.2f}, {per_call:.2f} SELECT/call)")
    if errors:
        results.notes.append(f"{backend.label} badge: {len(errors)} unexpected, e.g. {errors[0]}")
    engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_db_arguments(parser)
    parser.add_argument("--subjects", type=int, default=1_000_000,
                        help="credit subjects to create (licences, commitments and records "
                             "about as many each)")
    parser.add_argument("--calls", type=int, default=2_000,
                        help="timed check_eligibility calls per mix")
    parser.add_argument("--badge-calls", type=int, default=2_000, help="timed badge calls")
    parser.add_argument("--quick", action="store_true",
                        help="small smoke run (20,000 subjects, 300 calls)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the timed calls (slows them down)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--keep-sqlite", type=Path, default=None, metavar="PATH",
                        help="build the SQLite database at PATH (overwritten) and keep it")
    args = parser.parse_args(argv)

    db, pg_url = common.choose_databases(args)
    plan = Plan(args.subjects, args.calls, args.badge_calls)
    if args.quick:
        defaults = {a: parser.get_default(a) for a in ("subjects", "calls", "badge_calls")}
        plan = Plan(20_000 if args.subjects == defaults["subjects"] else args.subjects,
                    300 if args.calls == defaults["calls"] else args.calls,
                    300 if args.badge_calls == defaults["badge_calls"] else args.badge_calls)

    info = common.machine(sqlalchemy=sqlalchemy.__version__)
    common.print_banner("credit", info, also=[f"SQLAlchemy {info['sqlalchemy']}"])
    print(f"plan: {plan}")
    print("data: bulk Core inserts straight into the credit_* tables (create_all from "
          "web.models metadata), not through the credit services or the ledger: this "
          "measures the read path only")
    results = Results(TARGETS, widths=(44, 34, 9))
    work = Path(tempfile.mkdtemp(prefix="credit-bench-"))
    try:
        common.run_backends(db, pg_url, info,
                            lambda: SqliteBackend(args.keep_sqlite or work / "credit.db"),
                            PostgresBackend,
                            lambda backend: run_backend(backend, plan, results, args.profile))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print_table(results, info, plan)
    if args.json:
        common.write_figures(args.json, info, plan, results.raw, results.notes,
                             ensure_ascii=False)
    return 0


def print_table(results: Results, info: dict[str, str], plan: Plan) -> None:
    common.print_table(
        results.rows, results.notes, info, also=[f"SQLAlchemy {info['sqlalchemy']}"],
        intro=[f"{plan.subjects:,} subjects; {plan.calls:,} timed calls per mix, "
               f"{plan.badge_calls:,} badges; each call in a fresh session; "
               "data bulk-inserted with Core (read path only)"],
        sort_notes=False)


if __name__ == "__main__":
    raise SystemExit(main())
