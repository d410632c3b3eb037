"""Performance of hardnet against the peers a user would pick and against the limit, in one run.

    python benchmarks/perf.py --quick                 # a few minutes on 2 CPU cores
    python benchmarks/perf.py --out=/tmp/hardnet_perf # the full sizes
    python benchmarks/perf.py --quick --only=sampling,sgd

Items (one module each, `benchmarks/perf_*.py`): 1 `sampling` (F3, F4, F2 over 64 seeds against
the unavoidable work written as plain JAX kernels, a bare `jax.random.normal` and a NumPy
teacher), 2 `sgd` (16-seed vmapped MLP against PyTorch's torch.func ensemble, compiled and not,
and the loop), 3 `kernel` (exact RBF ridge against scikit-learn, Nyström-PCG scaling and a second
peer at 10⁵ rows), 4 `tensor` (moments per 10⁶ samples, growth in N and d), 5 `controls` (brute
force 2^20 seeds; GF(2) against galois and, at 10⁴ unknowns, against a bit-packed NumPy
elimination), 6 `memory` (peak RSS of online SGD and streaming at two counts, one subprocess per
point), 7 `online` (online SGD with in-program sampling against the step alone). Peers come
from the `bench` extra: `pip install -e '.[bench]'`.

A quiet machine is part of the measurement: XLA's CPU pool and PyTorch's threads slow down by
different factors when other processes share the cores. The 1-minute load is recorded at the
start, after each item and at the end, and the CPU time other processes used during the run
(/proc/stat's busy time minus this process's); when the load at the start exceeded the CPU
count, or others used more than 0.2 cores on average, every met/not met is void (the numbers are
still reported, and the header says why). The load during the run counts the benchmark's own
threads, so it cannot tell a busy neighbour from the benchmark itself.

Writes `perf.json` and `perf.md` to `--out` (ratios first, absolute numbers second; device,
versions, CPU count and load in the header) and prints the table. The timed JAX calls take
device arrays and return them (blocked on, never copied to the host); compilation is excluded
(a warm-up call, or ahead-of-time `lower().compile()` for the long Nyström fits).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from absl import app, flags

sys.path.insert(0, str(Path(__file__).resolve().parent))

import perf_common

ITEMS = ("sampling", "sgd", "kernel", "tensor", "controls", "memory", "online")

SIZES = {
    "full": dict(
        repeats=3, seeds=64, rows=8192, numpy_divisor=4,
        sgd_seeds=16, sgd_steps=50, sgd_dim=84,
        kernel_exact=10_000, kernel_test=2000, kernel_nystrom=(10_000, 20_000, 100_000, 200_000),
        kernel_landmarks=1024, kernel_cg_iters=30, kernel_peer_n=100_000,
        tensor_m=32, tensor_d=64, tensor_ns=(250_000, 1_000_000), tensor_ds=(32, 64, 128),
        brute_n=20, brute_rows=256, gf2_n=64, gf2_rows=1024, gf2_big_n=141, gf2_big_rows=12000,
        online_counts=(10**6, 10**8), stream_counts=(10**6, 10**7),
        online_seeds=4, online_budget=2**18,
    ),
    "quick": dict(
        repeats=2, seeds=64, rows=2048, numpy_divisor=4,
        sgd_seeds=16, sgd_steps=20, sgd_dim=84,
        kernel_exact=10_000, kernel_test=2000, kernel_nystrom=(10_000, 20_000, 100_000, 200_000),
        kernel_landmarks=1024, kernel_cg_iters=30, kernel_peer_n=100_000,
        tensor_m=32, tensor_d=64, tensor_ns=(62_500, 250_000), tensor_ds=(32, 64, 128),
        brute_n=20, brute_rows=256, gf2_n=64, gf2_rows=1024, gf2_big_n=141, gf2_big_rows=12000,
        online_counts=(10**6, 10**7), stream_counts=(10**6, 10**7),
        online_seeds=4, online_budget=2**17,
    ),
    # Tiny sizes for tests/test_perf.py: the structure, not the numbers.
    "tiny": dict(
        repeats=1, seeds=2, rows=64, numpy_divisor=2,
        sgd_seeds=2, sgd_steps=2, sgd_dim=8, sgd_batch=32,
        kernel_exact=300, kernel_test=50, kernel_nystrom=(300, 600),
        kernel_landmarks=32, kernel_cg_iters=5, kernel_peer_n=600,
        tensor_m=4, tensor_d=8, tensor_ns=(2000, 4000), tensor_ds=(8, 16),
        brute_n=8, brute_rows=64, gf2_n=8, gf2_rows=64, gf2_big_n=12, gf2_big_rows=160,
        online_counts=(2048, 8192), stream_counts=(1000, 4000),
        online_seeds=2, online_budget=2**11,
    ),
}  # fmt: skip

FLAGS = flags.FLAGS
flags.DEFINE_bool("quick", False, "Smaller sizes: a few minutes on 2 CPU cores.")
flags.DEFINE_bool("tiny", False, "Tiny sizes (tests only; the numbers mean nothing).")
flags.DEFINE_string("out", "/tmp/hardnet_perf", "Directory for perf.json and perf.md.")
flags.DEFINE_list("only", list(ITEMS), f"Items to run, any of {', '.join(ITEMS)}.")


def _module(item: str):
    import importlib

    return importlib.import_module(f"perf_{'controls' if item == 'controls' else item}")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    unknown = sorted(set(FLAGS.only) - set(ITEMS))
    if unknown:
        raise app.UsageError(f"--only: unknown items {unknown}; choose from {', '.join(ITEMS)}")
    if FLAGS.quick and FLAGS.tiny:
        raise app.UsageError("--quick and --tiny exclude each other")
    mode = "tiny" if FLAGS.tiny else ("quick" if FLAGS.quick else "full")
    sizes = SIZES[mode]
    head = perf_common.header(mode)
    start = time.perf_counter()
    rows = []
    loads, clock = [head["load_start"]], perf_common.cpu_clock()
    for item in ITEMS:
        if item in FLAGS.only:
            t0 = time.perf_counter()
            rows.extend(_module(item).run(sizes))
            loads.append(perf_common.load_average())
            print(
                f"[perf] {item}: {time.perf_counter() - t0:.1f} s, 1-min load {loads[-1]}",
                file=sys.stderr, flush=True,
            )  # fmt: skip
    head["load_end"] = perf_common.load_average()
    head["load_samples"] = loads + [head["load_end"]]
    head["wall_s"] = time.perf_counter() - start
    head["others_cores"] = perf_common.others_cores(clock, perf_common.cpu_clock(), head["wall_s"])
    rows = perf_common.void_if_loaded(head, rows)
    path = perf_common.write(FLAGS.out, head, rows)
    print(path.read_text())
    print(f"written: {path} and {path.with_suffix('.json')}")


if __name__ == "__main__":
    app.run(main)
