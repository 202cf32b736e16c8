// Poll the progress of runs still rendering; reload when one finishes.
  for (const bar of document.querySelectorAll("progress[data-run]")) {
    const tick = async () => {
      const r = await fetch(`/console/producer/print-runs/${bar.dataset.run}/progress`);
      const p = await r.json();
      if (p.done !== null) bar.value = p.done;
      if (p.finished) { location.reload(); } else { setTimeout(tick, 500); }
    };
    tick();
  }
