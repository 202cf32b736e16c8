"""双公示 (administrative licensing and penalty publication) CSV import and export.

The field layout is the one of the feeds to 信用中国 (credit-brief.md §1; the 2016 national
data items as used by government integration code): ``XK_`` for licensing, ``CF_`` for
penalties, plus ``CF_GSJZQ`` (公示截止期) of later versions.  Dates are calendar dates in
China Standard Time; an end date is inclusive (valid through that day).

Imported penalties become regulator records, imported licences become licences; the
row is kept (without the personal ID number ``*_XDR_SFZ``, which never enters the
ledger) and exported back unchanged, so import → export is a round trip.  Per
《市场监督管理行政处罚信息公示规定》 a warning alone is imported but not published.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from credit import rules
from credit._entries import aware
from credit.errors import BadImport, CreditError
from credit.models import Licence, Record, Subject
from credit.records import add_record
from credit.services import add_licence, find_by_uscc
from ledger.actor import Actor
from ledger.sequencer import LogWriter

__all__ = ["CF_FIELDS", "XK_FIELDS", "ImportReport", "import_penalties", "export_penalties",
           "import_licences", "export_licences"]

CF_FIELDS = ("CF_WSH", "CF_CFMC", "CF_CFLB1", "CF_CFLB2", "CF_SY", "CF_YJ", "CF_XDR_MC",
             "CF_XDR_SHXYM", "CF_XDR_ZDM", "CF_XDR_GSDJ", "CF_XDR_SWDJ", "CF_XDR_SFZ", "CF_FR",
             "CF_JG", "CF_JDRQ", "CF_XZJG", "CF_ZT", "DFBM", "SJC", "BZ", "CF_GSJZQ")
XK_FIELDS = ("XK_WSH", "XK_XMMC", "XK_SPLB", "XK_NR", "XK_XDR", "XK_XDR_SHXYM", "XK_XDR_ZDM",
             "XK_XDR_GSDJ", "XK_XDR_SWDJ", "XK_XDR_SFZ", "XK_FR", "XK_JDRQ", "XK_JZQ", "XK_XZJG",
             "XK_ZT", "DFBM", "SJC", "BZ")
_CF_REQUIRED = ("CF_WSH", "CF_CFLB1", "CF_SY", "CF_YJ", "CF_XDR_SHXYM", "CF_JDRQ", "CF_XZJG")
_XK_REQUIRED = ("XK_WSH", "XK_XMMC", "XK_XDR_SHXYM", "XK_JDRQ", "XK_JZQ", "XK_XZJG")
# 当前状态 (XK_ZT / CF_ZT): 0 or blank = 正常; 1 撤销, 2 异议, 3 其他.
_NORMAL = frozenset({"", "0", "正常", "有效"})
_SPLIT = re.compile(r"[;；,，、/]")


@dataclass
class ImportReport:
    """What an import did: created ids, and skipped rows as (row number, key, reason)."""

    created: list[str] = field(default_factory=list)
    skipped: list[tuple[int, str, str]] = field(default_factory=list)


def _date(text: str) -> datetime:
    """Return the CST midnight starting the date ``text`` (2026-01-31, 2026/1/31, 20260131)."""
    value = text.strip().split(" ")[0].split("T")[0]
    for pattern in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=rules.CST)
        except ValueError:
            continue
    raise ValueError(f"not a date: {text!r}")


def _day(when: datetime) -> str:
    return rules.utc(when).astimezone(rules.CST).strftime("%Y-%m-%d")


def _rows(text: str, required: Iterable[str]) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [f for f in required if f not in (reader.fieldnames or [])]
    if missing:
        raise BadImport(f"the CSV header lacks {', '.join(missing)}")
    return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]


def _import(session: Session, text: str, required: tuple[str, ...], fields: tuple[str, ...],
            key: str, uscc_field: str, status_field: str,
            create: Callable[[Subject, dict[str, str]], str]) -> ImportReport:
    report = ImportReport()
    for number, row in enumerate(_rows(text, required), start=2):  # row 1 is the header
        kept = {f: row.get(f, "") for f in fields}
        kept[uscc_field.replace("SHXYM", "SFZ")] = ""  # personal ID numbers stay out
        if kept[status_field] not in _NORMAL:
            report.skipped.append((number, kept[key], f"status_{kept[status_field]}"))
            continue
        try:
            subject = find_by_uscc(session, kept[uscc_field])
            report.created.append(create(subject, kept))
        except ValueError as exc:
            report.skipped.append((number, kept[key], f"bad_value: {exc}"))
        except CreditError as exc:
            report.skipped.append((number, kept[key], exc.code))
    return report


def import_penalties(writer: LogWriter, actor: Actor, text: str, *, now: datetime) -> ImportReport:
    """Import 行政处罚 rows (``CF_`` fields) as regulator records of the subjects they name.

    Severity comes from the penalty types (``rules.PENALTY_SEVERITY``, the most severe
    one); ``CF_GSJZQ`` sets the end of publication, cut at the rule's maximum.  Rows of
    unknown subjects, duplicates, revoked decisions and bad values are skipped and reported.

    :raises BadImport: when the header lacks a required field.
    :raises Forbidden: unless an inspector or administrator imports.
    """
    now = aware(now)

    def create(subject: Subject, row: dict[str, str]) -> str:
        decided = _date(row["CF_JDRQ"])
        types = [t.strip() for t in _SPLIT.split(row["CF_CFLB1"]) if t.strip()] or ["罚款"]
        ranks = {s: i for i, s in enumerate(rules.SEVERITIES)}
        severity = max((rules.PENALTY_SEVERITY.get(t, "general") for t in types),
                       key=ranks.__getitem__)
        until = None
        if row.get("CF_GSJZQ"):
            limit = rules.add_months(decided, rules.PUBLICATION[severity].maximum)
            until = min(_date(row["CF_GSJZQ"]) + timedelta(days=1), limit)
        record = add_record(
            writer, actor, subject.id, polarity="negative", source="regulator",
            basis=row["CF_YJ"], facts=row["CF_SY"], severity=severity, decided_at=decided, now=now,
            authority=row["CF_XZJG"], decision_no=row["CF_WSH"], publish_until=until,
            public=not set(types) <= rules.NOT_PUBLISHED_PENALTIES, cf=row)
        return record.id

    return _import(writer.session, text, _CF_REQUIRED, CF_FIELDS, "CF_WSH", "CF_XDR_SHXYM",
                   "CF_ZT", create)


def _licence_type(item: str) -> str:
    for licence_type, name in rules.LICENCE_TYPES.items():
        if name.removesuffix("证") in item:
            return licence_type
    raise ValueError(f"no licence type for 项目名称 {item!r}")


def import_licences(writer: LogWriter, actor: Actor, text: str, *, now: datetime) -> ImportReport:
    """Import 行政许可 rows (``XK_`` fields) as licences; ``XK_JZQ`` is the last valid day.

    :raises BadImport: when the header lacks a required field.
    :raises Forbidden: unless a platform, inspector or administrator imports.
    """
    now = aware(now)

    def create(subject: Subject, row: dict[str, str]) -> str:
        licence = add_licence(
            writer, actor, subject.id, _licence_type(row["XK_XMMC"]), row["XK_WSH"], row["XK_XZJG"],
            _date(row["XK_JDRQ"]), _date(row["XK_JZQ"]) + timedelta(days=1), now=now, xk=row)
        return licence.id

    return _import(writer.session, text, _XK_REQUIRED, XK_FIELDS, "XK_WSH", "XK_XDR_SHXYM",
                   "XK_ZT", create)


def _write(fields: tuple[str, ...], rows: Iterable[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\r\n")  # RFC 4180
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def export_penalties(session: Session, *, now: datetime) -> str:
    """Return the CSV (``CF_FIELDS``) of regulator records published at ``now``."""
    now = aware(now)
    stmt = (select(Record, Subject).join(Subject, Subject.id == Record.subject_id)
            .where(Record.source == "regulator", Record.polarity == "negative",
                   Record.status == "active", Record.public.is_(True), Record.end > now,
                   Record.start <= now)
            .order_by(Record.decided_at, Record.id))
    rows = []
    for record, subject in session.execute(stmt):
        rows.append(dict(record.cf) if record.cf else {
            "CF_WSH": record.decision_no or record.id, "CF_CFMC": "行政处罚决定书",
            "CF_CFLB1": "", "CF_SY": record.facts, "CF_YJ": record.basis,
            "CF_XDR_MC": subject.name, "CF_XDR_SHXYM": subject.uscc or "",
            "CF_JDRQ": _day(record.decided_at), "CF_XZJG": record.authority, "CF_ZT": "0",
            "SJC": _day(now), "CF_GSJZQ": _day(rules.utc(record.end) - timedelta(days=1)),
        })
    return _write(CF_FIELDS, rows)


def export_licences(session: Session, *, now: datetime) -> str:
    """Return the CSV (``XK_FIELDS``) of licences valid at ``now``."""
    now = aware(now)
    stmt = (select(Licence, Subject).join(Subject, Subject.id == Licence.subject_id)
            .where(Licence.status == "valid", Licence.valid_until > now)
            .order_by(Licence.valid_from, Licence.id))
    rows = []
    for licence, subject in session.execute(stmt):
        rows.append(dict(licence.xk) if licence.xk else {
            "XK_WSH": licence.number,
            "XK_XMMC": rules.LICENCE_TYPES[licence.licence_type].removesuffix("证"),
            "XK_SPLB": "普通", "XK_XDR": subject.name, "XK_XDR_SHXYM": subject.uscc or "",
            "XK_JDRQ": _day(licence.valid_from),
            "XK_JZQ": _day(rules.utc(licence.valid_until) - timedelta(days=1)),
            "XK_XZJG": licence.issuer, "XK_ZT": "0", "SJC": _day(now),
        })
    return _write(XK_FIELDS, rows)
