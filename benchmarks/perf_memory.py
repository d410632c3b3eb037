"""Item 6: peak memory of online SGD and of streaming must not grow with the count.

Each point runs in a fresh subprocess (`python perf_memory.py <kind> <count>`), which reports
its peak resident set size (`VmHWM` of /proc/self/status, else `ru_maxrss`):

- `online`: the `sgd` learner's `fit_online` (MLP 16-64-1, Adam, batch 1024) on fresh batches of
  F6 (`easy_depth2`, d=16) until `count` samples are seen: one `lax.scan`, O(batch) memory.
- `stream`: `hardnet.core.streaming.stream` over `count` rows of F6 in chunks of 65536, each chunk
  reduced and dropped.

The row's ratio is `peak(small count) / peak(large count)`; the target is ≥ 0.9 (at most 10%
growth while the count grows 10–100×). Holding the large count's data instead would need
`count × 17 × 4` bytes, given in the note.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from perf_common import Row

BATCH, CHUNK = 1024, 65536


def peak_rss_mib() -> float:
    """Peak resident set size of this process, MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker(kind: str, count: int) -> dict[str, float]:
    import jax
    import jax.numpy as jnp

    import hardnet.instances as hi
    import hardnet.learners as hl
    from hardnet.core import streaming

    inst = hi.make("easy_depth2", d=16, m=8)
    params = inst.init(jax.random.key(0))
    start = time.perf_counter()
    if kind == "online":
        learner = hl.make("sgd", depth=1, width=64, batch_size=BATCH, log_every=10**9)

        def source(start, num):
            x, y, _ = inst.sample(params, jax.random.key(2), num, start)
            return x, y

        pred = learner.fit_online(jax.random.key(1), source, count)
        value = float(jnp.sum(pred.info["train_loss"]))
    elif kind == "stream":
        value = 0.0
        for _, y, _ in streaming.stream(inst, params, jax.random.key(1), count, CHUNK):
            value += float(jnp.sum(y))
    else:
        raise ValueError(f"kind must be 'online' or 'stream', got {kind!r}")
    return {"peak_mib": peak_rss_mib(), "seconds": time.perf_counter() - start, "value": value}


def measure(kind: str, count: int) -> dict[str, float]:
    """Run one point in a fresh interpreter; its JSON report."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), kind, str(count)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(sizes: dict[str, Any]) -> list[Row]:
    rows = []
    for kind, counts, what in (
        ("online", sizes["online_counts"], "online SGD 16-64-1, batch 1024, F6"),
        ("stream", sizes["stream_counts"], "streaming F6 in chunks of 65536"),
    ):
        small, large = measure(kind, counts[0]), measure(kind, counts[1])
        ratio = small["peak_mib"] / large["peak_mib"]
        rows.append(
            Row(
                item="6 memory",
                what=f"{what}: peak RSS after {counts[0]:.0e} vs {counts[1]:.0e} samples",
                ratio=ratio,
                target=">= 0.9 (flat)",
                met=bool(ratio >= 0.9),
                ours=large["peak_mib"],
                unit="MiB at the large count",
                peer=f"same at {counts[0]:.0e}",
                peer_value=small["peak_mib"],
                note=f"{large['seconds']:.3g} s for {counts[1]:.0e}; holding it: "
                f"{counts[1] * 17 * 4 / 2**20:.3g} MiB",
            )
        )
    return rows


if __name__ == "__main__":
    print(json.dumps(_worker(sys.argv[1], int(sys.argv[2]))))
