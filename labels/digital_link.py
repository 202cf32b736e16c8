"""GS1 Digital Link URIs: build the uncompressed form and parse any valid one.

A Digital Link is ``<scheme>://<host>[/<stem>]/<key AI>/<key>[/<qualifier AI>/<value>]...``
followed by optional query attributes (numeric AIs such as ``17=YYMMDD``) and
other query parameters, which are kept but not interpreted here (our label
signature lives in two of them; see :mod:`labels.signing`).

Rules follow GS1 Digital Link: URI Syntax 1.2 (ABNF grammar
``GS1_Digital_Link_Grammar_1_2.abnf``) as implemented by GS1's reference,
gs1/gs1-syntax-engine ``src/c-lib/dl.c``:

* keys supported here: 00 (SSCC), 01 (GTIN), 414 (GLN); a GTIN-8/12/13 in
  ``/01/`` is padded to 14 digits (deprecated form, still accepted on input);
* 01 takes the qualifiers 22, 10, 21 in that order (any subset) or 235 alone;
  414 takes 254 or 7040; 00 takes none;
* values are percent-decoded: ``+`` is literal in the path and a space in the
  query; ``%00`` is refused; output escapes every character outside RFC 3986
  §2.3 "unreserved" (``A-Z a-z 0-9 - . _ ~``) as ``%XX``;
* numeric query keys must be known AIs with a non-empty value, not duplicate
  another AI, and not be a qualifier that belongs in the path;
* non-numeric query parameters are kept in order; the fragment is ignored.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from labels import gs1
from labels.errors import DigitalLinkError, IdentifierError

__all__ = [
    "CANONICAL_BASE",
    "DigitalLink",
    "gtin_link",
    "parse_digital_link",
    "percent_encode",
    "sscc_link",
]

CANONICAL_BASE = "https://id.gs1.org"  # DL URI Syntax 1.2 §4.11: canonical GS1 Digital Link URI

# Key -> allowed qualifier paths; any subsequence of a path, in order, is allowed
# (Syntax Dictionary "dlpkey" attributes: 01 dlpkey=22,10,21|235; 414 dlpkey=254|7040).
_QUALIFIER_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "00": ((),),
    "01": (("22", "10", "21"), ("235",)),
    "414": (("254",), ("7040",)),
}
# Other primary keys of the standard, recognised only to give a precise error.
_OTHER_KEYS = frozenset(
    {"253", "255", "401", "402", "417", "8003", "8004", "8006", "8010", "8013", "8017", "8018"}
)

# RFC 3986 §2: characters that may appear in a URI at all (plus '%').
_URI_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
)
# The same set as a pattern: one C-level scan for the common case of a clean URI.
_URI_TEXT = re.compile("[" + re.escape("".join(sorted(_URI_CHARS))) + "]*")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_BAD_HOST_CHARS = frozenset("_~?#@!$&'()*+,;=%")  # dl.c badDomainCharacters
_BASE_RE = re.compile(r"^(https?|HTTPS?)://([^/?#]+)((?:/[^/?#]+)*)$")
_PCT_RE = re.compile(r"%([0-9A-Fa-f]{2})")


def percent_encode(value: str, *, query: bool = False) -> str:
    """Return ``value`` with every non-unreserved character escaped as ``%XX``.

    ``%XX`` is upper-case hex of the character's UTF-8 bytes.

    In a query component a space becomes ``+`` (as gs1-syntax-engine does);
    a literal ``+`` is always escaped as ``%2B`` so it can never read as a space.
    """
    out = []
    for c in value:
        if c in _UNRESERVED:
            out.append(c)
        elif c == " " and query:
            out.append("+")
        else:
            out.extend(f"%{b:02X}" for b in c.encode())
    return "".join(out)


def _unescape(raw: str, *, query: bool, where: str) -> str:
    if "%" not in raw and not (query and "+" in raw):
        return raw  # nothing escaped (a URI holds no NUL: _split_uri allows none)
    if query:
        raw = raw.replace("+", " ")
    data = _PCT_RE.sub(lambda m: chr(int(m.group(1), 16)), raw)  # byte-wise: one char per %XX
    if "\x00" in data:
        raise DigitalLinkError(f"{where}: decoded value contains NUL (%00)")
    try:  # %XX sequences are UTF-8 bytes; reassemble them into text
        return data.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        raise DigitalLinkError(f"{where}: percent-encoded bytes are not UTF-8") from None


def _is_subsequence(seq: Sequence[str], path: Sequence[str]) -> bool:
    it = iter(path)
    return all(ai in it for ai in seq)


@functools.lru_cache(maxsize=256)  # a few keys and qualifier sequences, over and over
def _qualifiers_ok(key_ai: str, seq: tuple[str, ...]) -> bool:
    return any(_is_subsequence(seq, path) for path in _QUALIFIER_PATHS[key_ai])


@functools.lru_cache(maxsize=256)  # a handful of resolver hosts (a bad one raises: not kept)
def _check_base(base: str) -> None:
    m = _BASE_RE.match(base)
    if not m:
        raise DigitalLinkError(
            f"resolver base {base!r} must be http(s)://host[/stem] "
            "with no trailing '/', query or fragment"
        )
    bad = sorted(set(m.group(2)) & _BAD_HOST_CHARS)
    if bad or not set(base) <= _URI_CHARS:
        raise DigitalLinkError(
            f"resolver base {base!r}: character "
            f"{(bad or sorted(set(base) - _URI_CHARS))[0]!r} not allowed"
        )


@dataclass(frozen=True)
class DigitalLink:
    """A parsed or built GS1 Digital Link; values are decoded and validated.

    ``base`` is scheme, host and optional stem (no trailing ``/``);
    ``qualifiers`` and ``attributes`` are ``(ai, value)`` pairs in URI order;
    ``params`` are the other query parameters ``(name, value)``, kept verbatim
    after decoding (``""`` for a parameter without ``=``).
    """

    base: str
    key_ai: str
    key: str
    qualifiers: tuple[tuple[str, str], ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    params: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        """Validate key, qualifier order and every value.

        :raises DigitalLinkError: naming the first problem.
        """
        _check_base(self.base)
        if self.key_ai not in _QUALIFIER_PATHS:
            raise DigitalLinkError(
                f"primary key ({self.key_ai}) is not supported (only 00, 01, 414)"
            )
        seq = tuple(ai for ai, _ in self.qualifiers)
        if not _qualifiers_ok(self.key_ai, seq):
            allowed = " or ".join("/".join(p) or "none" for p in _QUALIFIER_PATHS[self.key_ai])
            got = "/".join(seq)
            raise DigitalLinkError(
                f"qualifiers {got} after ({self.key_ai}) are not allowed: "
                f"use {allowed}, in this order"
            )
        seen = {self.key_ai, *seq}
        try:
            gs1.validate_ai(self.key_ai, self.key)
            for ai, value in self.qualifiers:
                gs1.validate_ai(ai, value)
            for ai, value in self.attributes:
                gs1.validate_ai(ai, value)
        except IdentifierError as e:
            raise DigitalLinkError(f"Digital Link: {e}", code=e.code) from e
        for ai, _ in self.attributes:
            if ai in seen:
                raise DigitalLinkError(f"duplicate AI ({ai})")
            seen.add(ai)
            for i in range(1, len(seq) + 2):
                if _qualifiers_ok(self.key_ai, (*seq[: i - 1], ai, *seq[i - 1 :])):
                    raise DigitalLinkError(
                        f"AI ({ai}) is a key qualifier of ({self.key_ai}): "
                        "put it in the path, not the query"
                    )
        for name, _ in self.params:
            if not name or name.isdigit():
                raise DigitalLinkError(
                    f"query parameter name {name!r} must be non-empty and not all digits"
                )

    def qualifier(self, ai: str) -> str | None:
        """Return the value of key qualifier ``ai``, or None."""
        for key, value in self.qualifiers:
            if key == ai:
                return value
        return None

    def attribute(self, ai: str) -> str | None:
        """Return the value of query attribute ``ai``, or None."""
        return next((v for a, v in self.attributes if a == ai), None)

    def param(self, name: str) -> list[str]:
        """Return every value of non-AI query parameter ``name``, in order."""
        return [v for n, v in self.params if n == name]

    @property
    def gtin(self) -> str | None:
        """The GTIN-14 if the key is (01)."""
        return self.key if self.key_ai == "01" else None

    @property
    def lot(self) -> str | None:
        """The batch/lot (10), if present."""
        return self.qualifier("10")

    @property
    def serial(self) -> str | None:
        """The serial number (21), if present."""
        return self.qualifier("21")

    @property
    def expiry(self) -> str | None:
        """The expiry date (17) as YYMMDD, if present."""
        return self.attribute("17")

    def path(self) -> str:
        """Return the encoded path from the key on: ``/01/<gtin>/10/<lot>...``."""
        parts = [(self.key_ai, self.key), *self.qualifiers]
        return "".join(f"/{ai}/{percent_encode(v)}" for ai, v in parts)

    def uri(self) -> str:
        """Return the full URI: base, path, attributes then other parameters."""
        query = [f"{ai}={percent_encode(v, query=True)}" for ai, v in self.attributes]
        query += [
            percent_encode(n, query=True) + (f"={percent_encode(v, query=True)}" if v else "")
            for n, v in self.params
        ]
        return self.base + self.path() + ("?" + "&".join(query) if query else "")

    def canonical_uri(self) -> str:
        """Return the canonical id: ``https://id.gs1.org`` + key + qualifiers, no query.

        GS1 Digital Link URI Syntax 1.2 §4.11.
        """
        return CANONICAL_BASE + self.path()

    def ais(self) -> list[tuple[str, str]]:
        """Return every AI: key, qualifiers, then attributes, as gs1-syntax-engine orders them."""
        return [(self.key_ai, self.key), *self.qualifiers, *self.attributes]

    def element_string(self, fnc1: str = gs1.GS) -> str:
        """Return the GS1 element string of :meth:`ais` (see :func:`labels.gs1.element_string`)."""
        return gs1.element_string(self.ais(), fnc1)


def gtin_link(
    base: str,
    gtin: str,
    lot: str | None = None,
    serial: str | None = None,
    *,
    attributes: Iterable[tuple[str, str]] = (),
    params: Iterable[tuple[str, str]] = (),
) -> DigitalLink:
    """Return the Digital Link ``<base>/01/<gtin14>[/10/<lot>][/21/<serial>]?...``.

    ``gtin`` may be GTIN-8/12/13/14; it is stored as GTIN-14.  A trailing ``/``
    on ``base`` is dropped.

    :raises LabelError: (a subclass) naming the first invalid value.
    """
    qualifiers = tuple((ai, v) for ai, v in (("10", lot), ("21", serial)) if v is not None)
    return DigitalLink(
        base.rstrip("/"),
        "01",
        gs1.validate_gtin(gtin),
        qualifiers,
        tuple(attributes),
        tuple(params),
    )


def sscc_link(base: str, sscc: str, *, attributes: Iterable[tuple[str, str]] = ()) -> DigitalLink:
    """Return the Digital Link ``<base>/00/<sscc>`` of a logistic unit.

    :raises LabelError: (a subclass) if the SSCC or an attribute is invalid.
    """
    return DigitalLink(base.rstrip("/"), "00", gs1.validate_sscc(sscc), (), tuple(attributes))


def _split_uri(uri: str) -> tuple[str, str, str]:
    clean = _URI_TEXT.match(uri)
    if clean is None or clean.end() != len(uri):
        pos = clean.end() if clean is not None else 0
        raise DigitalLinkError(
            f"URI: character {uri[pos]!r} at position {pos + 1} is not allowed in a URI"
        )
    m = re.match(r"^(https?|HTTPS?)://([^/?#]*)", uri)
    if not m:
        raise DigitalLinkError(f"URI {uri[:40]!r}: scheme must be http:// or https:// (one case)")
    if not m.group(2):
        raise DigitalLinkError("URI: missing host")
    bad = sorted(set(m.group(2)) & _BAD_HOST_CHARS)
    if bad:
        raise DigitalLinkError(f"URI host {m.group(2)!r}: character {bad[0]!r} not allowed")
    rest = uri[m.end() :].split("#", 1)[0]
    path, _, query = rest.partition("?")
    return m.group(0), path, query


def _find_key(segs: list[str]) -> int:
    idx = len(segs) - 2
    while idx >= 0:
        ai = segs[idx]
        if ai in _QUALIFIER_PATHS:
            return idx
        if ai in _OTHER_KEYS:
            raise DigitalLinkError(f"primary key ({ai}) is not supported (only 00, 01, 414)")
        if not ai.isdigit():
            break
        try:
            gs1.lookup_ai(ai)
        except IdentifierError:
            raise DigitalLinkError(f"unknown AI ({ai}) in path") from None
        idx -= 2
    raise DigitalLinkError("no GS1 primary key (/00/, /01/ or /414/) found at the end of the path")


def _pad_gtin(value: str) -> str:
    # Zero-suppressed GTIN-8/12/13 (deprecated in /01/, but still printed): pad to 14.
    return value.zfill(14) if len(value) in (8, 12, 13) and value.isdigit() else value


def parse_digital_link(uri: str) -> DigitalLink:
    """Parse and validate a GS1 Digital Link URI (uncompressed form).

    :raises DigitalLinkError: naming the exact reason; value errors keep their
        code (e.g. ``labels.bad_check_digit``).
    """
    base, path, query = _split_uri(uri)
    if not path or path == "/":
        raise DigitalLinkError("URI has no path: expected /01/<gtin>, /00/<sscc> or /414/<gln>")
    if path.endswith("/"):
        raise DigitalLinkError("URI path must not end with '/'")
    segs = path[1:].split("/")
    k = _find_key(segs)
    if "" in segs[k:]:
        raise DigitalLinkError("URI path has an empty segment after the key")
    stem = "/".join(segs[:k])
    pairs = []
    for i in range(k, len(segs), 2):
        ai = segs[i]
        value = _unescape(segs[i + 1], query=False, where=f"path ({ai})")
        pairs.append((ai, _pad_gtin(value) if ai == "01" else value))
    attributes: list[tuple[str, str]] = []
    params: list[tuple[str, str]] = []
    for item in query.split("&"):
        if not item:
            continue  # extraneous '&' separators are allowed
        name, eq, raw = item.partition("=")
        if name.isdigit():
            try:
                gs1.lookup_ai(name)
            except IdentifierError:
                raise DigitalLinkError(f"unknown AI ({name}) in query") from None
            if not raw:
                raise DigitalLinkError(f"query attribute ({name}) has an empty value")
            value = _unescape(raw, query=True, where=f"query ({name})")
            attributes.append((name, _pad_gtin(value) if name in ("01", "02") else value))
        else:
            dec_name = _unescape(name, query=True, where="query parameter name")
            params.append(
                (
                    dec_name,
                    _unescape(raw, query=True, where=f"query parameter {dec_name!r}") if eq else "",
                )
            )
    key_ai, key = pairs[0]
    return DigitalLink(
        base + ("/" + stem if stem else ""),
        key_ai,
        key,
        tuple(pairs[1:]),
        tuple(attributes),
        tuple(params),
    )
