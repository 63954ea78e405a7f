"""The comparison report: `python -m sumexp.report DIR...` reads runs' folders and writes report.md, .csv, .png, .html."""
from sumexp.report.cli import main, write_report

__all__ = ["main", "write_report"]
