"""The 统一社会信用代码 (Unified Social Credit Code, GB 32100-2015), checked three ways.

Layout of the 18 characters (GB 32100-2015 §4):

- [1] registering authority (9 市场监管, 5 民政, 1 机构编制, Y other, …);
- [2] entity type under that authority (under 9: 1 enterprise, 2 个体工商户, 3 cooperative);
- [3-8] administrative division code (GB/T 2260);
- [9-17] organisation code (GB 11714-1997), whose 9th character is its own check;
- [18] check character, mod 31 over the alphabet ``0-9A-HJ-NPQRTUWXY``.

A mod-31 check alone accepts ``123456789012345678`` (credit-brief.md, pitfall b), so the
division and the GB 11714 check are verified too.  python-stdnum (``stdnum.cn.uscc``)
gives the alphabet and the mod-31 character; its ``validate`` wants digits in
positions 1-8, stricter than the standard, so it is not used to decide.
"""

from __future__ import annotations

from stdnum import numdb
from stdnum.cn import uscc as _stdnum_uscc

from credit.errors import BadUSCC

__all__ = ["ALPHABET", "compact_uscc", "validate_uscc", "org_code_check_char", "REASONS"]

# GB 32100-2015 §4.2: the code alphabet, without I, O, S, V and Z (values 0-30).
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# GB 32100-2015 Table 1 and later assignments (2 外交, 3 司法行政, … N 农业; partly mem):
# registering authority -> allowed entity types ("" = any digit 1-9).
_AUTHORITIES: dict[str, str] = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 群众团体, 其他
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "9": "123",  # 工商/市场监管: 企业, 个体工商户, 农民专业合作社
    "Y": "1",  # 其他
    "2": "", "3": "", "4": "", "6": "", "7": "", "8": "", "A": "", "N": "",
}
# Division code of bodies registered at national level (GB/T 2260 has no such county).
_NATIONAL = "100000"
# GB 11714-1997 §5: weights of the eight body characters of the organisation code.
_GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# Reasons in the order they are checked; the first failure is ``BadUSCC.reason``.
REASONS = ("length", "charset", "authority", "entity_type", "region", "org_code_check",
           "check_char")
# Malformed codes can never be real; the others may be early pilot codes (pitfall a).
_NOT_ATTESTABLE = frozenset({"length", "charset"})


def compact_uscc(text: str) -> str:
    """Return ``text`` without spaces or hyphens, in upper case."""
    return str(_stdnum_uscc.compact(text))


def org_code_check_char(body: str) -> str:
    """Return the GB 11714-1997 check character of an 8-character organisation code body.

    Digits count as their value and letters as ``ord(c) - 55`` (A = 10); the check is
    ``11 - (Σ value·weight mod 11)``, written ``X`` for 10 and ``0`` for 11.

    :raises ValueError: when ``body`` is not 8 characters of 0-9 and A-Z.
    """
    if len(body) != 8 or not all(c.isdigit() or "A" <= c <= "Z" for c in body):
        raise ValueError(f"organisation code body {body!r} is not 8 characters of 0-9A-Z")
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w
                for c, w in zip(body, _GB11714_WEIGHTS))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def _region_known(code: str) -> bool:
    if code == _NATIONAL:
        return True
    if not code.isdigit():
        return False
    # stdnum's GB/T 2260 table (cn/loc.dat, from Wikipedia, with historic codes).
    parts = numdb.get("cn/loc").info(code)
    return len(parts) == 2 and "province" in parts[0][1] and "county" in parts[1][1]


def _failures(code: str) -> list[str]:
    if len(code) != 18:
        return ["length"]
    if any(c not in ALPHABET for c in code):
        return ["charset"]
    failed = []
    types = _AUTHORITIES.get(code[0])
    if types is None:
        failed.append("authority")
    elif code[1] not in (types or "123456789"):
        failed.append("entity_type")
    if not _region_known(code[2:8]):
        failed.append("region")
    if org_code_check_char(code[8:16]) != code[16]:
        failed.append("org_code_check")
    if _stdnum_uscc.calc_check_digit(code[:17]) != code[17]:
        failed.append("check_char")
    return failed


def validate_uscc(text: str) -> str:
    """Return the compact code if it passes every GB 32100 check.

    :raises BadUSCC: naming the first failed check (``reason``, one of ``REASONS``) and
        listing all of them in the message; ``attestable`` is false for a code of the
        wrong length or with characters outside the alphabet.
    """
    code = compact_uscc(text)
    failed = _failures(code)
    if failed:
        raise BadUSCC(
            f"统一社会信用代码 {code!r} fails GB 32100: {', '.join(failed)}",
            reason=failed[0], attestable=failed[0] not in _NOT_ATTESTABLE,
        )
    return code
