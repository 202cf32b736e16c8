"""Print runs: a stream of labels -> one output file, chosen from one ``{format: writer}`` dict.

``pdf``: A4 sheets (:func:`labels.sheets.write_pdf`); ``zpl``: thermal
printers (:func:`labels.zpl.write_zpl`).  Both stream: the labels may be a
generator over a whole run and only a page (PDF) or a buffer (ZPL) is held.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

from labels.errors import LabelError
from labels.sheets import write_pdf
from labels.templates import LabelContent
from labels.zpl import write_zpl

__all__ = ["RUN_WRITERS", "write_run"]

RunWriter = Callable[..., int]
RUN_WRITERS: dict[str, RunWriter] = {"pdf": write_pdf, "zpl": write_zpl}


def write_run(labels: Iterable[LabelContent], out: BinaryIO, fmt: str, **options: Any) -> int:
    """Write ``labels`` to ``out`` as ``fmt`` (``pdf`` or ``zpl``) and return the label count.

    :raises LabelError: for an unknown format, or (a subclass) for a label that cannot be printed.
    """
    try:
        writer = RUN_WRITERS[fmt]
    except KeyError:
        raise LabelError(
            f"unknown print-run format {fmt!r}; known: {', '.join(sorted(RUN_WRITERS))}"
        ) from None
    return writer(labels, out, **options)
