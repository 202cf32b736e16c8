"""Print runs: a stream of labels -> one output file, chosen from one ``{format: writer}`` dict.

``pdf``: A4 sheets (:func:`labels.sheets.write_pdf`); ``zpl``: thermal
printers (:func:`labels.zpl.write_zpl`); ``png-zip`` and ``svg-zip``: a ZIP
archive with one 50 x 30 mm label per file (:func:`write_png_zip`,
:func:`write_svg_zip`), for printing services and designers who place labels
themselves.  Every writer streams: the labels may be a generator over a whole
run and only a page (PDF), a buffer (ZPL) or one label plus the ZIP's central
directory (about 100 bytes per label) is held.  The output file object need
not be seekable (``zipfile`` then writes data descriptors).

:func:`write_run` also reports progress for every format, so a CLI can draw a
progress bar without knowing the writers.
"""

from __future__ import annotations

import multiprocessing
import zipfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from labels.errors import LabelError
from labels.sheets import write_pdf
from labels.templates import LabelContent, render_label
from labels.zpl import write_zpl

__all__ = [
    "PROGRESS_EVERY",
    "RUN_WRITERS",
    "label_file_name",
    "write_png_zip",
    "write_run",
    "write_svg_zip",
]

RunWriter = Callable[..., int]
Progress = Callable[[int], None]
PROGRESS_EVERY = 100  # labels between two progress calls (a 100,000-label run: 1,000 calls)

# Fixed member timestamp (the ZIP epoch, APPNOTE 4.4.6): the same labels give the same bytes.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# Kept as is in member names; every other character becomes %XX (UTF-8), like the path
# segments of a Digital Link, so no lot or serial (GS1 CSET 82 allows / : * ? " < >) can make
# a directory, climb out with "..", or be invalid on Windows.  "_" is encoded too: it separates
# the three parts.
_NAME_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")


def _name_part(value: str) -> str:
    return "".join(
        c if c in _NAME_SAFE else "".join(f"%{b:02X}" for b in c.encode()) for c in value
    )


def label_file_name(content: LabelContent, ext: str) -> str:
    """Return the ZIP member name of a label: ``<gtin>_<lot>_<serial>.<ext>`` (parts %-encoded)."""
    return f"{content.gtin}_{_name_part(content.lot)}_{_name_part(content.serial)}.{ext}"


def _png(args: tuple[LabelContent, int]) -> tuple[LabelContent, bytes]:
    return args[0], render_label(args[0], "png", dpi=args[1])


def _svg(args: tuple[LabelContent, int]) -> tuple[LabelContent, bytes]:
    return args[0], render_label(args[0], "svg", dpi=args[1])


_RENDERERS = {"png": _png, "svg": _svg}  # module-level functions: picklable for the pool


def _rendered(
    labels: Iterable[LabelContent], ext: str, dpi: int, workers: int
) -> Iterator[tuple[LabelContent, bytes]]:
    # Each label travels with its bytes: the input iterable can be read only once.
    render = _RENDERERS[ext]
    jobs = ((c, dpi) for c in labels)
    if workers <= 1:
        yield from map(render, jobs)
        return
    ctx = multiprocessing.get_context(  # as in labels.sheets
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    with ctx.Pool(workers) as pool:
        yield from pool.imap(render, jobs, chunksize=16)


def _write_zip(
    labels: Iterable[LabelContent],
    out: BinaryIO,
    ext: str,
    compression: int,
    dpi: int,
    workers: int,
) -> int:
    names: set[str] = set()
    count = 0
    with zipfile.ZipFile(out, "w", compression=compression) as zf:
        for content, data in _rendered(labels, ext, dpi, workers):
            name = label_file_name(content, ext)
            if name in names:  # the same item twice in one run is a bug upstream, not a reprint
                raise LabelError(
                    f"label {name!r} appears twice in the run", code="labels.duplicate_label"
                )
            names.add(name)
            info = zipfile.ZipInfo(name, _ZIP_EPOCH)
            info.compress_type = compression
            info.external_attr = 0o644 << 16  # -rw-r--r-- when unpacked
            zf.writestr(info, data)
            count += 1
    return count


def write_png_zip(
    labels: Iterable[LabelContent], out: BinaryIO, *, dpi: int = 300, workers: int = 1
) -> int:
    """Write a ZIP of one PNG label per file to ``out`` and return the label count.

    Members are stored, not deflated: PNG is already compressed, so deflating costs time
    and saves nothing.  ``workers > 1`` renders in that many processes.

    :raises LabelError: (a subclass) for a label that cannot be laid out, or with code
        ``labels.duplicate_label`` when two labels get the same file name.
    """
    return _write_zip(labels, out, "png", zipfile.ZIP_STORED, dpi, workers)


def write_svg_zip(
    labels: Iterable[LabelContent], out: BinaryIO, *, dpi: int = 300, workers: int = 1
) -> int:
    """Write a ZIP of one SVG label per file (deflated) to ``out`` and return the label count.

    ``dpi`` is the device resolution the module sizes are rounded to, as for print.

    :raises LabelError: (a subclass) for a label that cannot be laid out, or with code
        ``labels.duplicate_label`` when two labels get the same file name.
    """
    return _write_zip(labels, out, "svg", zipfile.ZIP_DEFLATED, dpi, workers)


RUN_WRITERS: dict[str, RunWriter] = {
    "pdf": write_pdf,
    "zpl": write_zpl,
    "png-zip": write_png_zip,
    "svg-zip": write_svg_zip,
}


def _counted(
    labels: Iterable[LabelContent], progress: Progress, every: int
) -> Iterator[LabelContent]:
    n = 0
    for c in labels:
        yield c
        n += 1
        if n % every == 0:
            progress(n)


def write_run(
    labels: Iterable[LabelContent],
    out: BinaryIO,
    fmt: str,
    *,
    progress: Progress | None = None,
    progress_every: int = PROGRESS_EVERY,
    **options: Any,
) -> int:
    """Write ``labels`` to ``out`` as ``fmt`` (a key of :data:`RUN_WRITERS`); return the count.

    ``options`` go to the writer (e.g. ``workers``, ``dpi``).  ``progress``, if given, is
    called with the number of labels handed to the writer so far, every ``progress_every``
    labels, and once more with the total at the end.  The count is taken as the writer
    reads its input: with ``workers > 1`` (``pdf``, ``png-zip``, ``svg-zip``) the input is
    read by the process pool's feeder thread, so ``progress`` is then called from that
    thread and runs a few chunks ahead of the written output.

    :raises LabelError: for an unknown format or a ``progress_every`` below 1, or (a subclass)
        for a label that cannot be printed.
    """
    try:
        writer = RUN_WRITERS[fmt]
    except KeyError:
        raise LabelError(
            f"unknown print-run format {fmt!r}; known: {', '.join(RUN_WRITERS)}"
        ) from None
    if progress is None:
        return writer(labels, out, **options)
    if progress_every < 1:
        raise LabelError(f"progress_every must be at least 1, got {progress_every}")
    count = writer(_counted(labels, progress, progress_every), out, **options)
    if count == 0 or count % progress_every:
        progress(count)
    return count
