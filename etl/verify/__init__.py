"""Verify: account for every source document, and report (see ``verify`` and ``report``)."""

from etl.verify.report import Report, StageReport, render, write_json
from etl.verify.verify import VerifyError, verify

__all__ = ["Report", "StageReport", "VerifyError", "render", "verify", "write_json"]
