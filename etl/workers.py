"""What every worker process of the etl commands does first (the extract's encoders, the load's stager)."""

from __future__ import annotations

import ctypes
import signal
import sys

PR_SET_PDEATHSIG = 1


def start_worker() -> None:
    """Leave Ctrl-C to the command (it stops its workers), and on Linux die with it: a command killed with
    SIGKILL would otherwise leave its workers behind, blocked on their queue or still writing."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
