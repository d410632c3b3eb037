"""Performance of hardnet against real peers, every item of issue 5 in one run.

    python benchmarks/perf.py --quick                 # a few minutes on 2 CPU cores
    python benchmarks/perf.py --out=/tmp/hardnet_perf # the full sizes
    python benchmarks/perf.py --quick --only=sampling,sgd

Items (one module each, `benchmarks/perf_*.py`): 1 `sampling` (F3, F2 over 64 seeds against
`jax.random.normal` and a NumPy teacher), 2 `sgd` (16-seed vmapped MLP against PyTorch),
3 `kernel` (exact RBF ridge against scikit-learn, Nyström-PCG scaling), 4 `tensor` (moments per
10⁶ samples, growth in N and d), 5 `controls` (brute force 2^20 seeds, GF(2) against galois),
6 `memory` (peak RSS of online SGD and streaming at two counts, one subprocess per point).
Peers come from the `bench` extra: `pip install -e '.[bench]'`.

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

ITEMS = ("sampling", "sgd", "kernel", "tensor", "controls", "memory")

SIZES = {
    "full": dict(
        repeats=3, seeds=64, rows=8192, numpy_divisor=4,
        sgd_seeds=16, sgd_steps=20, sgd_dim=84,
        kernel_exact=10_000, kernel_test=2000, kernel_nystrom=(10_000, 20_000, 100_000, 200_000),
        kernel_landmarks=1024, kernel_cg_iters=30,
        tensor_m=32, tensor_d=64, tensor_ns=(250_000, 1_000_000), tensor_ds=(32, 64, 128),
        brute_n=20, brute_rows=256, gf2_n=64, gf2_rows=1024,
        online_counts=(10**6, 10**8), stream_counts=(10**6, 10**7),
    ),
    "quick": dict(
        repeats=2, seeds=64, rows=2048, numpy_divisor=4,
        sgd_seeds=16, sgd_steps=6, sgd_dim=84,
        kernel_exact=10_000, kernel_test=2000, kernel_nystrom=(10_000, 20_000, 100_000, 200_000),
        kernel_landmarks=1024, kernel_cg_iters=30,
        tensor_m=32, tensor_d=64, tensor_ns=(62_500, 250_000), tensor_ds=(32, 64, 128),
        brute_n=20, brute_rows=256, gf2_n=64, gf2_rows=1024,
        online_counts=(10**6, 10**7), stream_counts=(10**6, 10**7),
    ),
    # Tiny sizes for tests/test_perf.py: the structure, not the numbers.
    "tiny": dict(
        repeats=1, seeds=2, rows=64, numpy_divisor=2,
        sgd_seeds=2, sgd_steps=2, sgd_dim=8, sgd_batch=32,
        kernel_exact=300, kernel_test=50, kernel_nystrom=(300, 600),
        kernel_landmarks=32, kernel_cg_iters=5,
        tensor_m=4, tensor_d=8, tensor_ns=(2000, 4000), tensor_ds=(8, 16),
        brute_n=8, brute_rows=64, gf2_n=8, gf2_rows=64,
        online_counts=(2048, 8192), stream_counts=(1000, 4000),
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
    for item in ITEMS:
        if item in FLAGS.only:
            t0 = time.perf_counter()
            rows.extend(_module(item).run(sizes))
            print(f"[perf] {item}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    head["load_end"] = perf_common.load_average()
    head["wall_s"] = time.perf_counter() - start
    path = perf_common.write(FLAGS.out, head, rows)
    print(path.read_text())
    print(f"written: {path} and {path.with_suffix('.json')}")


if __name__ == "__main__":
    app.run(main)
