"""Settings of a long-running service process: its garbage collector.

CPython's cyclic collector runs after every 700 net allocations of container objects,
and now and then walks every object of the process.  A service process holds some
130,000 objects made at start-up (modules, SQLAlchemy's mappers, the EPCIS schema)
that live as long as it does, and a bulk request (an EPCIS document of 1,000 events,
a production run) makes tens of thousands more that live until it ends: the default
collector spent about a sixth of an EPCIS capture walking them
(``docs/performance.md``, Trace).  So, once the application is built:

- ``gc.freeze()`` moves what start-up made into the permanent generation, which no
  collection walks again (the use the ``gc`` documentation gives for pre-fork servers,
  where it also keeps the pages shared after ``fork``);
- the youngest generation is collected after 10,000 allocations instead of 700.

Reference counting still frees everything as before; only cycles wait a little longer.
"""

from __future__ import annotations

import gc

__all__ = ["GC_THRESHOLDS", "tune_gc"]

GC_THRESHOLDS = (10_000, 10, 10)


def tune_gc() -> None:
    """Freeze the objects made so far and set :data:`GC_THRESHOLDS` (once per process)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
