"""`hardnet-report --workdir=DIR [--format=md|csv|parquet] [--out=PATH]`: write a workdir's
`report.md` and plots (`analysis/report.py`), print the learners × instances table and the
deviations from the expected picture, and optionally export the flat per-run table.

Errors (no workdir, no rows, an export that cannot be written) exit with one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hardnet.analysis import report


def main(argv: Sequence[str]) -> None:
    """Write the report of `--workdir`, print its table and deviations, export if asked."""
    from absl import flags

    if len(argv) > 1:
        raise SystemExit(f"unexpected arguments: {' '.join(argv[1:])}")
    workdir = flags.FLAGS.workdir
    if not workdir or not Path(workdir).is_dir():
        raise SystemExit(f"--workdir must be an existing directory, got {workdir!r}")
    rows = report.read_rows(workdir)
    if not rows:
        raise SystemExit(f"--workdir={workdir}: no results.jsonl rows")
    summary = report.summarize(rows)
    path = report.write(Path(workdir), summary, rows)
    print(report.table(summary))
    devs = report.deviations(summary)
    print(f"\nDeviations from the expected picture ({len(devs)}):" if devs else "\nNo deviations.")
    print("\n".join(f"- {d}" for d in devs))
    print(f"\nreport: {path}")
    fmt = flags.FLAGS.format
    if fmt:
        try:
            print(report.export(rows, flags.FLAGS.out or Path(workdir) / f"runs.{fmt}", fmt))
        except ValueError as error:
            raise SystemExit(f"--format={fmt}: {error}") from None


def define_flags() -> None:
    """`--workdir`, `--format`, `--out` (skipped when another entry point defined them)."""
    from absl import flags

    if "workdir" not in flags.FLAGS:
        flags.DEFINE_string("workdir", None, "Benchmark workdir holding results.jsonl.")
    if "format" not in flags.FLAGS:
        flags.DEFINE_enum(
            "format", None, list(report.EXPORT_FORMATS),
            "also export the flat per-run table (one line per run, cell parameters as columns) "
            "as <workdir>/runs.<format>",
        )  # fmt: skip
    if "out" not in flags.FLAGS:
        flags.DEFINE_string("out", None, "path of the --format export (default workdir/runs.*)")


def run() -> None:
    """Console-script entry point (`hardnet-report`)."""
    from absl import app

    define_flags()
    app.run(main)


if __name__ == "__main__":
    run()
