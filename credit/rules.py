"""The credit rules: one versioned, readable configuration (weights, periods, limits).

Every number that decides a credit outcome lives here, with the document it comes
from (see docs/credit.md and /work/shared/docs/credit-brief.md; "(mem)" marks a value
taken from memory of a rule without a stored copy: check before relying on it).
Entries that applied a rule carry ``RULES_VERSION``, so a changed rule never rewrites
history: bump the version whenever a value below changes.

Time is always an input: nothing here reads the clock.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Final, Mapping

__all__ = [
    "RULES_VERSION", "CST", "add_months", "utc",
    "SUBJECT_KINDS", "ORGANISATION_KINDS", "INDIVIDUAL_KINDS",
    "REVERIFY_INTERVAL",
    "LICENCE_TYPES", "ProductCategory", "PRODUCT_CATEGORIES",
    "COMMITMENT_TEMPLATE_VERSION", "COMMITMENT_TYPES", "COMMITMENT_CLAUSES",
    "SEVERITIES", "SEVERITY_ZH", "RECORD_SOURCES", "Period", "PUBLICATION",
    "POSITIVE_RECORD_MONTHS", "PENALTY_SEVERITY", "NOT_PUBLISHED_PENALTIES",
    "RATING_POINTS", "PAIR_CAP_POINTS", "REPEAT_WINDOW", "RATING_WINDOW", "FOLLOWUP_WINDOW",
    "DSR_WINDOW", "ScoreRules", "SCORE", "grade_for",
    "ListRules", "BLACK_LIST", "RED_LIST",
    "RANKING_FACTOR", "INSPECTIONS_PER_YEAR", "CLOSE_SHOP_ON_BLACK_LIST",
    "ANSWER_PERIOD", "DECISION_PERIOD", "COMPLAINT_SEVERITY",
]

RULES_VERSION: Final = "credit-rules/2026.1"

# China Standard Time: UTC+8 all year (no DST since 1991); calendar months and the
# dates of 双公示 files are counted in it.
CST: Final = timezone(timedelta(hours=8), "CST")


def utc(when: datetime) -> datetime:
    """Return ``when`` in UTC; a naive datetime is taken to be UTC already (as stored)."""
    if when.tzinfo is None:
        return when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def add_months(when: datetime, months: int) -> datetime:
    """Return ``when`` plus ``months`` calendar months in CST (31 Jan + 1 month = 28 Feb)."""
    local = utc(when).astimezone(CST)
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(timezone.utc)


# ---------------------------------------------------------------- subjects (issue #6 §1)
SUBJECT_KINDS: Final = ("platform", "merchant", "individual_seller", "producer", "logistics",
                        "courier", "inspection_body", "credit_agency")
# Organisations are identified by 统一社会信用代码 (GB 32100); a merchant may be a
# 个体工商户, which has one too (entity type 2).  Natural persons by real name.
ORGANISATION_KINDS: Final = frozenset({"platform", "merchant", "producer", "logistics",
                                       "inspection_body", "credit_agency"})
INDIVIDUAL_KINDS: Final = frozenset({"individual_seller", "courier"})
# 电子商务法 Art 27: platforms verify identity and "定期核验更新"; the period is ours.
REVERIFY_INTERVAL: Final = timedelta(days=365)

# ---------------------------------------------------------------- licences (§2)
# licence type -> its name on the certificate.
LICENCE_TYPES: Final[Mapping[str, str]] = MappingProxyType({
    "food_production": "食品生产许可证",  # 食品安全法 Art 35 (SC number)
    "food_business": "食品经营许可证",  # 食品安全法 Art 35 (JY number)
    "drug_production": "药品生产许可证",  # 药品管理法 Art 41
    "drug_business": "药品经营许可证",  # 药品管理法 Art 51
    "medical_device_production": "医疗器械生产许可证",  # 医疗器械监督管理条例 Art 32
    "medical_device_business": "医疗器械经营许可证",  # 条例 Art 42 (class III; II 备案)
    "cosmetics_production": "化妆品生产许可证",  # 化妆品监督管理条例 Art 27
    "industrial_product": "工业产品生产许可证",  # 工业产品生产许可证管理条例
})


@dataclass(frozen=True)
class ProductCategory:
    """What listing a product of one category needs: any one of ``licences``, and an
    inspection event when ``regulated``."""

    zh: str
    licences: tuple[str, ...]
    regulated: bool


PRODUCT_CATEGORIES: Final[Mapping[str, ProductCategory]] = MappingProxyType({
    "general": ProductCategory("一般商品", (), False),
    "food": ProductCategory("食品", ("food_business", "food_production"), True),
    "drug": ProductCategory("药品", ("drug_business", "drug_production"), True),
    "medical_device": ProductCategory(
        "医疗器械", ("medical_device_business", "medical_device_production"), True),
    "cosmetics": ProductCategory("化妆品", ("cosmetics_production",), True),
    "industrial": ProductCategory("生产许可目录工业产品", ("industrial_product",), True),
})

# ---------------------------------------------------------------- commitments (§3)
# 《经营主体信用承诺实施指南》 (SAC/TC470, in force 2025-12-01) and the older typology.
COMMITMENT_TEMPLATE_VERSION: Final = "credit-commitment/1"
COMMITMENT_TYPES: Final[Mapping[str, str]] = MappingProxyType({
    "domain": "应用领域型", "scenario": "应用场景型",  # the 2025 guide
    "approval_substitute": "审批替代型", "tolerance": "容缺受理型",
    "self_discipline": "行业自律型", "voluntary": "主动型", "repair": "信用修复型",
})
# (code, zh, en): the standard clauses (Zhuhai template fields, guide Annex A).
COMMITMENT_CLAUSES: Final = (
    ("compliance", "严格遵守法律法规和平台规则，依法诚信经营。",
     "Comply with the laws, regulations and platform rules; trade honestly."),
    ("truthful_information", "所提交材料和公示信息真实、准确、完整。",
     "Everything submitted and published is true, accurate and complete."),
    ("product_quality", "所售商品质量合格，来源可查、去向可追。",
     "Products sold meet quality standards and can be traced."),
    ("service_guarantee", "履行七日无理由退货、售后和消费者权益保护义务。",
     "Honour 7-day returns, after-sales service and consumer protection."),
    ("responsibility", "对违反承诺造成的损失依法承担责任。",
     "Bear the legal liability for losses caused by a breach."),
    ("consent_to_publication", "同意本承诺及履约情况向社会公开，接受社会监督。",
     "Consent to publishing this commitment and its fulfilment; accept public supervision."),
    ("accept_punishment", "违反承诺的，自愿接受失信惩戒并记入信用档案。",
     "Accept credit punishment and a record in the credit file on breach."),
)

# ---------------------------------------------------------------- records (§4)
SEVERITIES: Final = ("minor", "general", "serious")
SEVERITY_ZH: Final[Mapping[str, str]] = MappingProxyType(
    {"minor": "轻微", "general": "一般", "serious": "严重"})
RECORD_SOURCES: Final = ("platform", "regulator", "court", "consumer_complaint", "logistics",
                         "third_party_agency")


@dataclass(frozen=True)
class Period:
    """Publication of a negative record, in months from its start: repair may be
    requested from ``minimum``; publication stops at ``maximum``; ``published`` is
    whether it is published at all by default."""

    minimum: int
    maximum: int
    published: bool


# NDRC 《信用修复管理办法》 (adopted 2025-11-19, in force 2026-04-01, replacing NDRC令
# 第58号 of 2023): 轻微 normally not published (≤ 3 months if needed); 一般 3 months to
# 1 year; 严重 1 to 3 years.  Repair after the minimum; publication ends at the maximum.
PUBLICATION: Final[Mapping[str, Period]] = MappingProxyType({
    "minor": Period(0, 3, False),
    "general": Period(3, 12, True),
    "serious": Period(12, 36, True),
})
# Positive records (honours, 守信 records): published for 3 years (our choice).
POSITIVE_RECORD_MONTHS: Final = 36

# 双公示 import: 行政处罚法 (2021) Art 9 penalty types (CF_CFLB1) -> severity; the
# longest-lasting ones are 严重.  Anything else is 一般.
PENALTY_SEVERITY: Final[Mapping[str, str]] = MappingProxyType({
    "警告": "minor", "通报批评": "minor",
    "罚款": "general", "没收违法所得": "general", "没收非法财物": "general",
    "暂扣许可证件": "serious", "降低资质等级": "serious", "吊销许可证件": "serious",
    "限制开展生产经营活动": "serious", "责令停产停业": "serious", "责令关闭": "serious",
    "限制从业": "serious", "行政拘留": "serious",
})
# 《市场监督管理行政处罚信息公示规定》 (2021): a penalty of a warning alone is not published.
NOT_PUBLISHED_PENALTIES: Final = frozenset({"警告"})

# ---------------------------------------------------------------- ratings (§5)
# Taobao: good +1, neutral 0, bad -1 (TOP API UserCredit).
RATING_POINTS: Final[Mapping[str, int]] = MappingProxyType({"good": 1, "neutral": 0, "bad": -1})
# Taobao (mem): one buyer–seller pair moves at most 6 points per calendar month (CST)...
PAIR_CAP_POINTS: Final = 6
# ...and repeated ratings of the same item within 14 days count once.
REPEAT_WINDOW: Final = timedelta(days=14)
# Rating is open for 15 days after signing (Taobao, mem); one follow-up (追评) within 180
# days, appended, never edited (电子商务法 Art 39: no deleting reviews).
RATING_WINDOW: Final = timedelta(days=15)
FOLLOWUP_WINDOW: Final = timedelta(days=180)
# DSR 店铺动态评分 averages over about 180 days (mem).
DSR_WINDOW: Final = timedelta(days=180)

# ---------------------------------------------------------------- score and grade (§6)


@dataclass(frozen=True)
class ScoreRules:
    """Weights of the explainable score (0-100) and the grade thresholds."""

    base: int = 75
    # A negative record in effect, by severity, before decay.
    record_points: Mapping[str, int] = field(default_factory=lambda: MappingProxyType(
        {"minor": -5, "general": -15, "serious": -40}))
    positive_record_points: int = 3
    positive_cap: int = 10
    # Exponential decay of a record's weight with its age (half-life in days).
    half_life_days: int = 365
    # Ratings: Beta reputation E = (r+1)/(r+s+2) (Jøsang & Ismail 2002) over counted
    # ratings of the last ``rating_days``, older ones forgotten by ``forgetting`` per
    # 30 days; contribution = (2E - 1) · rating_points (so ± rating_points at most).
    rating_days: int = 365
    forgetting: float = 0.95
    rating_points: int = 10
    red_list_points: int = 5
    verification_overdue_points: int = -5
    # Tax 纳税信用 thresholds: A ≥ 90, B 70–<90, C 40–<70, D < 40; on the black list the
    # grade is D directly, and a serious record in effect caps the grade at C.
    thresholds: tuple[tuple[str, int], ...] = (("A", 90), ("B", 70), ("C", 40), ("D", 0))
    serious_cap: str = "C"


SCORE: Final = ScoreRules()


def grade_for(score: int, *, black_listed: bool = False, serious: bool = False) -> str:
    """Return the grade A–D of ``score`` under ``SCORE``, applying the list and severity caps."""
    if black_listed:
        return "D"
    grade = next(g for g, floor in SCORE.thresholds if score >= floor)
    if serious and grade < SCORE.serious_cap:
        grade = SCORE.serious_cap
    return grade


# ---------------------------------------------------------------- lists (§7)


@dataclass(frozen=True)
class ListRules:
    """Duration of a list entry in months: removal may be requested from
    ``earliest_removal``; the entry ends by itself at ``duration``."""

    zh: str
    earliest_removal: int
    duration: int


# SAMR 严重违法失信名单 (总局令第44号, 2021): out after 3 years, early removal requestable
# after 1 year (mem).  The red list is our platform policy: one year, then re-proposed.
BLACK_LIST: Final = ListRules("失信黑名单", 12, 36)
RED_LIST: Final = ListRules("守信红名单", 0, 12)

# Effects other parts obey (Guangdong SAMR "三张清单" 2025: incentives and punishments).
RANKING_FACTOR: Final[Mapping[str, float]] = MappingProxyType(
    {"red": 1.2, "A": 1.1, "B": 1.0, "C": 0.8, "D": 0.5, "black": 0.0, "none": 1.0})
# SAMR 企业信用风险分类 A–D sets the 双随机 sampling frequency (国市监信发〔2022〕6号, mem);
# a black-listed subject is under 重点监管.
INSPECTIONS_PER_YEAR: Final[Mapping[str, int]] = MappingProxyType(
    {"A": 1, "B": 2, "C": 4, "D": 12, "black": 12, "none": 2})
CLOSE_SHOP_ON_BLACK_LIST: Final = True

# ---------------------------------------------------------------- complaints (§8)
# Platform service levels (ours): the merchant answers within 3 days, the platform
# decides within 7 days of filing; past either, the case goes to the regulator
# (《市场监督管理投诉举报处理暂行办法》 gives the regulator 7 working days to accept).
ANSWER_PERIOD: Final = timedelta(days=3)
DECISION_PERIOD: Final = timedelta(days=7)
# Severity of the credit record an upheld complaint or report creates.
COMPLAINT_SEVERITY: Final[Mapping[str, str]] = MappingProxyType(
    {"complaint": "minor", "report": "general"})
