"""Verify: account for every source document, and report (see ``verify`` and ``report``)."""

from etl.verify.report import Report, StageReport, render, write_json
from etl.verify.verify import load_report, verify

__all__ = ["Report", "StageReport", "load_report", "render", "verify", "write_json"]
