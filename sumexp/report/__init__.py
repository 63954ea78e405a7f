"""The comparison report: `python -m sumexp.report DIR...` writes report.md, .csv, .png and .html."""

from sumexp.report.cli import main, write_report

__all__ = ["main", "write_report"]
