"""TensorFlow-free TensorBoard logging of per-cell learning curves and hparams.

A thin layer over `tensorboardX.SummaryWriter` (no TensorFlow import; `clu` and
`flax.metrics.tensorboard` would need it). Layout under the workdir::

    tb/<cell_id>/<learner>/            curves averaged over seeds (`<prefix>/<name>`), hparams
    tb/<cell_id>/<learner>/seed_<i>/   per-seed curves (same tags), when `per_seed=True`
    tb/by_samples/<series_id>/         final metrics at step = training samples (`samples_point`)

so `tensorboard --logdir <workdir>/tb` overlays the seeds of a cell in one chart, and the runs
under `by_samples/` are learning curves against the sample budget (one point per cell, each
in its own event file named after the cell, replaced when the cell is logged again). Non-finite
values (a diverged seed) are not logged: the mean at a step is over the seeds finite there, and a
step with none is skipped (results.jsonl keeps the NaNs; TensorBoard cannot plot them).
Only one process writes: `enabled` defaults to `jax.process_index() == 0`; a disabled
writer does nothing and creates no files.

A cell's log directory is emptied on open (`fresh=True`): a cell is only logged while it is not
finished, so whatever is there comes from a killed attempt and would duplicate points.
Read back with `tensorboard.backend.event_processing.event_accumulator.EventAccumulator`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hardnet.core.rows import Row
from hardnet.run.results import check_cell_id


def _default_enabled() -> bool:
    try:
        import jax

        return jax.process_index() == 0
    except Exception:
        return True


def _safe_part(name: str, what: str) -> str:
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ValueError(f"{what} must be a non-empty name without '/', got {name!r}")
    return name


def _hparam_value(v: Any) -> bool | int | float | str:
    """TensorBoard hparams accept bool/int/float/str; anything else is logged as JSON text."""
    if isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, np.generic):
        return v.item()
    return json.dumps(v, sort_keys=True, default=str)


class CellWriter:
    """TensorBoard writer for one (cell, learner) at `<workdir>/tb/<cell_id>/<learner>`."""

    def __init__(
        self,
        workdir: str | os.PathLike,
        cell_id: str,
        learner: str | None = None,
        *,
        enabled: bool | None = None,
        fresh: bool = True,
    ):
        self.enabled = _default_enabled() if enabled is None else bool(enabled)
        logdir = Path(workdir) / "tb" / check_cell_id(cell_id)
        if learner is not None:
            logdir = logdir / _safe_part(learner, "learner")
        self.logdir = logdir
        self._main = None
        self._seeds: dict[int, Any] = {}
        if not self.enabled:
            return
        if fresh and logdir.exists():
            shutil.rmtree(logdir)
        self._main = self._writer(logdir)

    @staticmethod
    def _writer(logdir: Path) -> Any:
        from tensorboardX import SummaryWriter

        logdir.mkdir(parents=True, exist_ok=True)
        return SummaryWriter(logdir=str(logdir), flush_secs=30)

    def _seed_writer(self, i: int) -> Any:
        if i not in self._seeds:
            self._seeds[i] = self._writer(self.logdir / f"seed_{i}")
        return self._seeds[i]

    def scalars(
        self,
        tag_prefix: str,
        curves: Mapping[str, Any],
        steps: Any,
        *,
        per_seed: bool = False,
    ) -> None:
        """Log curves at `steps` (e.g. samples seen at each log point).

        Each curve has shape (T,) or (S, T) with T = len(steps) (leading axes are flattened to the
        seed axis S). Tag `<tag_prefix>/<name>` gets the mean over the seeds finite at each step
        (steps with none are skipped); with `per_seed`, the run `seed_<i>` gets seed i's finite
        values under the same tag.
        """
        steps_a = np.asarray(steps)
        if steps_a.ndim != 1:
            raise ValueError(f"steps must be 1-D, got shape {steps_a.shape}")
        T = steps_a.shape[0]
        prepared = {}
        for name, c in curves.items():
            a = np.asarray(c, dtype=np.float64)
            if a.ndim == 0 or a.shape[-1] != T:
                raise ValueError(
                    f"curve {name!r} has shape {a.shape}; its last axis must match len(steps)={T}"
                )
            prepared[name] = a.reshape(-1, T)
        if not self.enabled:
            return
        step_ints = [int(s) for s in steps_a]
        for name, a in prepared.items():
            tag = f"{tag_prefix}/{name}" if tag_prefix else name
            ok = np.isfinite(a)
            counts = ok.sum(axis=0)
            mean = np.where(ok, a, 0.0).sum(axis=0) / np.maximum(counts, 1)
            for t, s in enumerate(step_ints):
                if counts[t] > 0:
                    self._main.add_scalar(tag, float(mean[t]), s)
            if per_seed:
                for i in range(a.shape[0]):
                    w = self._seed_writer(i)
                    for t, s in enumerate(step_ints):
                        if ok[i, t]:
                            w.add_scalar(tag, float(a[i, t]), s)

    def scalar(self, tag: str, value: float, step: int = 0) -> None:
        """One point (skipped if not finite)."""
        if self.enabled and math.isfinite(float(value)):
            self._main.add_scalar(tag, float(value), int(step))

    def hparams(self, params: Mapping[str, Any], metrics: Mapping[str, Any]) -> None:
        """Record the cell's parameters and final metrics for TensorBoard's HPARAMS tab.

        Written into this run (not a timestamped sub-run as `add_hparams` would). Metric tags are
        prefixed `hparam/` so they do not collide with curve tags.
        """
        if not self.enabled:
            return
        from tensorboardX.summary import hparams as hp_summaries

        hp = {str(k): _hparam_value(v) for k, v in params.items()}
        mt = {f"hparam/{k}": float(v) for k, v in metrics.items()}
        mt = {k: v for k, v in mt.items() if math.isfinite(v)}
        for summary in hp_summaries(hp, mt):
            self._main.file_writer.add_summary(summary)
        for k, v in mt.items():
            self._main.add_scalar(k, v, 0)

    def flush(self) -> None:
        for w in [self._main, *self._seeds.values()]:
            if w is not None:
                w.flush()

    def close(self) -> None:
        for w in [self._main, *self._seeds.values()]:
            if w is not None:
                w.close()
        self._main = None
        self._seeds = {}
        self.enabled = False

    def curves_from_rows(self, rows: Sequence[Row], prefix: str = "train") -> None:
        """Log the `curves` of a cell's result rows (`hardnet.run.runner`): tag `<prefix>/<name>`
        against the row's `step` curve (else the log-point index), mean over runs and per seed.
        Runs whose curves have another length than the first run's are skipped."""
        curves = [r["curves"] for r in rows if isinstance(r.get("curves"), Mapping)]
        if not curves:
            return
        names = [k for k in curves[0] if k != "step"]
        length = len(curves[0][names[0]]) if names else 0
        same = [c for c in curves if all(len(c.get(k, ())) == length for k in names)]
        steps = same[0].get("step", list(range(length)))
        stacked = {k: np.array([c[k] for c in same], dtype=np.float64) for k in names}
        self.scalars(prefix, stacked, steps, per_seed=len(same) > 1)

    def __enter__(self) -> CellWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def samples_point(
    workdir: str | os.PathLike,
    series_id: str,
    cell_id: str,
    samples: int,
    metrics: Mapping[str, float],
    *,
    enabled: bool | None = None,
) -> None:
    """One point per metric at step `samples` in `tb/by_samples/<series_id>`, written to an
    event file whose name ends in `.<cell_id>`; an earlier file of the same cell (a killed
    attempt) is removed first, so a cell contributes one point however often it is logged."""
    if not (_default_enabled() if enabled is None else enabled):
        return
    from tensorboardX import SummaryWriter

    logdir = Path(workdir) / "tb" / "by_samples" / _safe_part(series_id, "series_id")
    suffix = "." + check_cell_id(cell_id)
    if logdir.exists():
        for old in logdir.glob(f"events.out.tfevents.*{suffix}"):
            old.unlink()
    logdir.mkdir(parents=True, exist_ok=True)
    with SummaryWriter(logdir=str(logdir), filename_suffix=suffix) as writer:
        for name, value in metrics.items():
            if math.isfinite(float(value)):
                writer.add_scalar(name, float(value), int(samples))
