"""`python -m sumexp.report DIR [DIR ...]`: compare every run under the folders; writes report.md/.csv/.png/.html."""

from __future__ import annotations

import argparse
from pathlib import Path

from sumexp.errors import UserError, run_cli

OUTPUTS = (
    "report.md",
    "report.csv",
    "report_backends.csv",
    "report_backends.tex",
    "report.png",
    "report_backends.png",
    "report.html",
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sumexp.report", description=__doc__.split(":", 1)[1].strip())
    parser.add_argument(
        "dirs", nargs="+", type=Path, metavar="DIR", help="a sweep folder (multirun/DATE/TIME) or run folders"
    )
    parser.add_argument("--out", type=Path, help="where the report files go (default: the first DIR)")
    parser.add_argument(
        "--baseline",
        default="full",
        metavar="BACKEND",
        help="the backend whose run of the same model is the reference for Δ ROUGE, memory %% and "
        "speed × (default: full)",
    )
    args = parser.parse_args(argv)
    return run_cli(lambda: write_report(args.dirs, args.out or args.dirs[0], args.baseline))


def write_report(dirs: list[Path], out: Path, baseline: str = "full"):
    """Build the table from the runs' folders, print it and write the four files; returns the table."""
    from sumexp.run.listing import load_runs

    for path in dirs:
        if not path.is_dir():
            raise UserError(f"{path}: folder not found; give a sweep folder (multirun/DATE/TIME) or run folders")
    runs = load_runs(dirs)
    if not runs:
        raise UserError(
            f"{', '.join(map(str, dirs))}: no run folders found (a run folder holds metrics.json or .hydra/); "
            "give a sweep folder or run folders"
        )
    _attach_details(runs)
    return _write_files(dirs, runs, out, baseline, read_speeds([*dirs, out]))


def read_speeds(folders) -> list[dict]:
    """The `python -m sumexp.speed` measurements (speed-*.json) in the given folders; an unreadable one is skipped."""
    import json

    found = []
    for path in dict.fromkeys(p for folder in folders for p in sorted(Path(folder).glob("speed-*.json"))):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("backends"), dict):
            found.append(data)
    return found


def _attach_details(runs: list[dict]) -> None:
    """What the comparison needs beyond metrics.json: dev examples and the saved config."""
    from sumexp.report.configs import read_config, seedless_key
    from sumexp.report.examples import read_dev_examples

    for run in runs:
        run["examples"] = read_dev_examples(Path(run["run_dir"]))
        run["config"] = read_config(Path(run["run_dir"]))
        run["config_key"] = seedless_key(run["config"])


def _write_files(dirs, runs: list[dict], out: Path, baseline: str, speeds: list[dict]):
    import sumexp.report.backends_table as backends_table
    from sumexp.report.groups import summarize_groups
    from sumexp.report.guide import how_to_read
    from sumexp.report.html import render_html
    from sumexp.report.markdown import errors_markdown, groups_markdown, notes_markdown, to_markdown
    from sumexp.report.plot import plot_backends, plot_report
    from sumexp.report.table import build_table
    from sumexp.report.viewer import viewer_data
    from sumexp.results.files import write_together

    table = build_table(runs, baseline, speeds)
    summary = backends_table.backend_summary(table)
    groups = summarize_groups(table)
    guide, markdown, errors = how_to_read(table, baseline), to_markdown(table, groups), errors_markdown(table)
    groups_md = groups_markdown(groups) if len(groups) else ""
    # Everything is drawn before anything is written: a report is written whole or not at all.
    backends_md = backends_table.to_markdown(summary) if len(summary) else ""
    document = _document(dirs, table, backends_md, guide, markdown, groups_md, notes_markdown(table), errors)
    png, backends_png = _plot_bytes(plot_report, table), _plot_bytes(plot_backends, summary)
    labels = dict(zip(table["run"], table["backend"]))
    page = render_html(
        "sumexp comparison", guide, table, groups, summary, (png, backends_png), viewer_data(runs, labels)
    )
    write_together(
        {
            out / "report.md": document.encode("utf-8"),
            out / "report.csv": table.to_csv(index=False).encode("utf-8"),
            out / "report_backends.csv": backends_table.to_csv_frame(summary).to_csv(index=False).encode("utf-8"),
            out / "report_backends.tex": backends_table.to_latex(summary).encode("utf-8"),
            out / "report.png": png,
            out / "report_backends.png": backends_png,
            out / "report.html": page.encode("utf-8"),
        }
    )
    print(markdown + (f"\nDid not complete:\n{errors}" if errors else ""), end="")
    print(f"sumexp: report of {len(table)} run(s): {out / 'report.md'}, " + ", ".join(OUTPUTS[1:]))
    return table


def _plot_bytes(plot, frame) -> bytes:
    """A plot's PNG bytes; they go into report.html too."""
    import io

    drawn = io.BytesIO()
    plot(frame, drawn)
    return drawn.getvalue()


def _document(dirs, table, backends_md: str, guide: str, markdown: str, groups_md: str, notes: str, errors: str) -> str:
    from sumexp.report.backends_table import INTERVALS

    counts = table["status"].value_counts()
    status = ", ".join(f"{n} {s}" for s, n in counts.items())
    return (
        "# sumexp comparison\n\n"
        f"Runs under {', '.join(f'`{d}`' for d in dirs)}: {status}.\n\n"
        + (
            "## Backends per model\n\nOver each backend's seeds, against the same-seed baseline (also "
            "report_backends.csv, report_backends.tex and report_backends.png):\n\n"
            f"{backends_md}\n{INTERVALS}\n\n![memory, speed and Δ ROUGE per model and backend]"
            "(report_backends.png)\n\n## Runs\n\n"
            if backends_md
            else ""
        )
        + f"{guide}\n"
        f"{markdown}\n"
        + (f"## Seed groups\n\n{groups_md}\n" if groups_md else "")
        + (f"## Notes\n\n{notes}\n" if notes else "")
        + (f"## Did not complete\n\n{errors}\n" if errors else "")
        + "![ROUGE with its interval, Δ ROUGE, memory and speed per run](report.png)\n\n"
        "report.html has this table sortable, the plots, and the dev dialogues with every run's summary side by side.\n"
    )
