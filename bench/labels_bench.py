#!/usr/bin/env python3
"""Labels benchmark: signed labels per second for each print output, on 1 and 2 processes.

Not a test: it prints a table of figures next to their targets.  Run from the checkout::

    python bench/labels_bench.py                 # rates, 2,000 labels per row (about 1-2 min)
    python bench/labels_bench.py --quick         # smoke run (200 labels per row)
    python bench/labels_bench.py --full          # also the two 100,000-label runs (~1 min more)

Every label is signed inside the timed region (Ed25519 over the TL1 message, then the
Digital Link URI: ``labels.signing.sign_label``), with realistic data: a 14-digit GTIN,
a 10-character lot, a 12-character serial and both dates under ``https://t.example.cn``
(186-character URI, QR version 9-M).  Rows:

- sign only: the signature and the URI, nothing rendered (the floor of every row);
- QR PNG (symbol only): ``symbols.qr`` (Zint) + ``writers.render(.., "png")``, 0.33 mm modules
  at 300 dpi;
- label PNG: the whole 50 x 30 mm label through ``write_run(.., "png-zip")`` (QR, EAN-13,
  CJK text, PNG, ZIP member);
- PDF sheets: ``write_run(.., "pdf")``, A4 sheets of 4 x 9 labels;
- ZPL: ``write_run(.., "zpl")``, one stored format and one recall per label.

Each row runs at least ``--count`` labels; a row faster than one second is re-run with more
labels until a single run lasts a second (the figure is that run).

"2 processes" means the writer's ``workers=2`` option where it exists (png-zip, pdf: labels
are signed in the parent, rendered in two workers), else the run split into two chunks signed
and written by two forked processes (sign only, QR PNG, ZPL: two output files).  Wall-clock
includes the pool start.  Output goes to files in a temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from common import load_avg, machine, print_banner

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from labels import symbols, writers  # noqa: E402
from labels.keys import LabelSigningKey  # noqa: E402
from labels.runs import write_run  # noqa: E402
from labels.signing import sign_label  # noqa: E402
from labels.templates import LabelContent  # noqa: E402

BASE = "https://t.example.cn"
GTIN, LOT = "06901234567892", "LOT2026A01"
PRODUCTION, EXPIRY = dt.date(2026, 1, 2), dt.date(2027, 6, 30)
SEED = bytes(range(32))  # docs/label-format.md §6 example key: a benchmark, never production
HEADLINE = 100_000
TARGETS = {"pdf": 120.0, "zpl": 15.0}  # seconds for 100,000 signed labels (docs/limits.md)
MIN_SECONDS = 1.0  # fast rows get more labels until one run lasts this long


def _key() -> LabelSigningKey:
    return LabelSigningKey.from_seed(SEED)


def signed(start: int, count: int, key: LabelSigningKey | None = None) -> Iterator[LabelContent]:
    """Yield ``count`` freshly signed label contents, serials ``SN<start..>``."""
    key = key or _key()
    for i in range(start, start + count):
        s = sign_label(GTIN, LOT, f"SN{i:010d}", key, production=PRODUCTION, expiry=EXPIRY)
        yield LabelContent(
            s.uri(BASE), s.gtin, s.lot, s.serial, "有机纯牛奶 250mL×12盒",
            "内蒙古示例乳业有限公司", PRODUCTION, EXPIRY,
        )


# ---- one chunk of work per job; module-level so forked pools can call them --------------

def job_sign(work: Path, start: int, count: int) -> int:
    return sum(1 for _ in signed(start, count))


def job_qr_png(work: Path, start: int, count: int) -> int:
    opts = writers.RenderOptions()
    for c in signed(start, count):
        writers.render(symbols.qr(c.uri, ecc="M"), "png", opts)
    return count


def _run_job(fmt: str, workers: int) -> Callable[[Path, int, int], int]:
    def job(work: Path, start: int, count: int) -> int:
        path = work / f"run-{fmt}-{os.getpid()}-{start}"
        with path.open("wb") as out:
            options: dict[str, Any] = {"workers": workers} if workers > 1 else {}
            n = write_run(signed(start, count), out, fmt, **options)
        path.unlink()
        return n
    return job


JOBS: dict[str, Callable[[Path, int, int], int]] = {
    "sign": job_sign,
    "qr-png": job_qr_png,
    "zpl": _run_job("zpl", 1),
}


def _job_star(args: tuple[str, Path, int, int]) -> int:
    name, work, start, count = args
    return JOBS[name](work, start, count)


def split(name: str, work: Path, procs: int, count: int) -> int:
    """Run job ``name`` over ``count`` labels split into ``procs`` forked processes."""
    chunks = [(name, work, i * count // procs, (i + 1) * count // procs - i * count // procs)
              for i in range(procs)]
    with mp.get_context("fork").Pool(procs) as pool:
        return sum(pool.map(_job_star, chunks))


@dataclass(frozen=True)
class Row:
    what: str
    procs: int
    labels: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.labels / self.seconds


def measure(fn: Callable[[int], int], count: int) -> tuple[int, float]:
    """Run ``fn(n)`` (it returns the labels done), from ``n = count`` up until one run lasts
    MIN_SECONDS, so a pool start is spread over a realistic run; return the last run."""
    n = count
    while True:
        t0 = time.perf_counter()
        done = fn(n)
        elapsed = time.perf_counter() - t0
        if elapsed >= MIN_SECONDS:
            return done, elapsed
        n = int(n * min(10.0, 1.2 * MIN_SECONDS / max(elapsed, 1e-3))) + 1


def rates(work: Path, count: int) -> list[Row]:
    """Measure every output on 1 and 2 processes."""
    plan: list[tuple[str, int, Callable[[int], int]]] = []
    for title, name in (("sign only (URI)", "sign"), ("QR PNG (symbol only)", "qr-png")):
        plan.append((title, 1, partial(JOBS[name], work, 0)))
        plan.append((title, 2, partial(split, name, work, 2)))
    for title, fmt in (("label PNG (png-zip)", "png-zip"), ("PDF sheets", "pdf")):
        plan.extend((title, procs, partial(_run_job(fmt, procs), work, 0)) for procs in (1, 2))
    plan.append(("ZPL", 1, partial(JOBS["zpl"], work, 0)))
    plan.append(("ZPL", 2, partial(split, "zpl", work, 2)))
    rows: list[Row] = []
    for title, procs, fn in plan:
        labels, seconds = measure(fn, count)
        row = Row(title, procs, labels, seconds)
        rows.append(row)
        print(f"  {title:<22} {procs} proc  {labels:>7,} labels  {seconds:7.2f} s  "
              f"{row.rate:>9,.0f} labels/s   load {load_avg()}", flush=True)
    return rows


def headline(work: Path, fmt: str, workers: int) -> tuple[float, int]:
    """Write HEADLINE signed labels to a file as ``fmt``; return (seconds, file size)."""
    path = work / f"headline.{fmt}"

    def progress(n: int) -> None:
        if sys.stderr.isatty():
            print(f"    {fmt}: {n:,} / {HEADLINE:,}", end="\r", file=sys.stderr, flush=True)

    options: dict[str, Any] = {"workers": workers} if workers > 1 else {}
    t0 = time.perf_counter()
    with path.open("wb") as out:
        n = write_run(signed(0, HEADLINE), out, fmt, progress=progress, progress_every=1_000,
                      **options)
    seconds = time.perf_counter() - t0
    size = path.stat().st_size
    path.unlink()
    assert n == HEADLINE
    return seconds, size


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=2_000,
                        help="labels per measured row (default 2,000)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 200 labels per row")
    parser.add_argument("--full", action="store_true",
                        help=f"also write {HEADLINE:,} signed labels to PDF and to ZPL")
    args = parser.parse_args(argv)
    count = 200 if args.quick and args.count == parser.get_default("count") else args.count

    print_banner("labels", machine())
    # Warm the caches (fonts, glyph widths, static layout, QR magnification) before forking.
    with open(os.devnull, "wb") as devnull:
        for fmt in ("pdf", "zpl", "png-zip"):
            write_run(signed(0, 2), devnull, fmt)
    with tempfile.TemporaryDirectory(prefix="labels-bench-") as tmp:
        work = Path(tmp)
        print(f"\nrates (at least {count:,} labels, and at least {MIN_SECONDS:g} s, per run):")
        rows = rates(work, count)
        heads: list[tuple[str, int, float, int]] = []
        if args.full:
            print(f"\nheadline runs ({HEADLINE:,} signed labels to a file):")
            for fmt, workers in (("pdf", 2), ("zpl", 1)):
                seconds, size = headline(work, fmt, workers)
                heads.append((fmt, workers, seconds, size))
                print(f"  {fmt}: {seconds:.1f} s, {size / 1e6:.1f} MB   load {load_avg()}",
                      flush=True)

    print("\n| output | processes | labels/s | 100,000 labels at this rate |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r.what} | {r.procs} | {r.rate:,.0f} | {HEADLINE / r.rate:,.1f} s |")
    if heads:
        print("\n| headline run | processes | time | output | target | met |")
        print("|---|---|---|---|---|---|")
        for fmt, workers, seconds, size in heads:
            met = "met" if seconds <= TARGETS[fmt] else "NOT met"
            print(f"| {HEADLINE:,} signed labels to {fmt.upper()} | {workers} | {seconds:.1f} s "
                  f"| {size / 1e6:.1f} MB | <= {TARGETS[fmt]:g} s | {met} |")
    print(f"\nload average at the end: {load_avg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
