"""`python -m sumexp.report DIR [DIR ...]`: compare every run under the folders; writes report.md, .csv and .png."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sumexp.errors import UserError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sumexp.report", description=__doc__.split(":", 1)[1].strip())
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="a sweep folder (multirun/DATE/TIME) or run folders")
    parser.add_argument("--out", type=Path, help="where report.md, report.csv and report.png go (default: the first DIR)")
    parser.add_argument("--baseline", default="full", metavar="BACKEND",
                        help="the backend whose run of the same model counts as 100%% memory and 1× speed (default: full)")
    args = parser.parse_args(argv)
    try:
        write_report(args.dirs, args.out or args.dirs[0], args.baseline)
    except UserError as err:
        print(f"sumexp: error: {err}", file=sys.stderr)
        return 2
    return 0


def write_report(dirs: list[Path], out: Path, baseline: str = "full"):
    """Build the table from the runs' metrics.json, print it and write the three files; returns the table."""
    from sumexp.results.files import write_atomic, write_csv
    from sumexp.sweep.markdown import errors_markdown, to_markdown
    from sumexp.sweep.plot import plot_report
    from sumexp.sweep.runs import load_runs
    from sumexp.sweep.table import build_table

    for path in dirs:
        if not path.is_dir():
            raise UserError(f"{path}: folder not found; give a sweep folder (multirun/DATE/TIME) or run folders")
    runs = load_runs(dirs)
    if not runs:
        raise UserError(f"{', '.join(map(str, dirs))}: no run folders found (a run folder holds metrics.json or .hydra/); "
                        "give a sweep folder or run folders")
    table = build_table(runs, baseline)
    markdown, errors = to_markdown(table), errors_markdown(table)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "report.md", _document(dirs, table, baseline, markdown, errors))
    write_csv(out / "report.csv", table)
    tmp = out / ".report.tmp.png"
    plot_report(table, tmp)
    os.replace(tmp, out / "report.png")
    print(markdown + (f"\nDid not complete:\n{errors}" if errors else ""), end="")
    print(f"sumexp: report of {len(table)} run(s): {out / 'report.md'}, report.csv, report.png")
    return table


def _document(dirs, table, baseline: str, markdown: str, errors: str) -> str:
    counts = table["status"].value_counts()
    status = ", ".join(f"{n} {s}" for s, n in counts.items())
    return (
        "# sumexp comparison\n\n"
        f"Runs under {', '.join(f'`{d}`' for d in dirs)}: {status}.\n\n"
        "ROUGE is dev F1 on a 0–100 scale. Peak memory is CUDA max allocated on a GPU, the process's peak RSS on a CPU. "
        f"Memory % and speed × compare each run with the completed `{baseline}` run of the same model "
        "(training throughput, optimizer steps only).\n\n"
        f"{markdown}\n"
        + (f"## Did not complete\n\n{errors}\n" if errors else "")
        + "![ROUGE mean against peak memory and training speed](report.png)\n"
    )


if __name__ == "__main__":
    sys.exit(main())
