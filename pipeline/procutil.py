"""Child-process lifetime: a worker process (batch, web, ingest) ends when the process that started
it dies, however it dies (kill -9 included), instead of holding its memory as an orphan."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time


def die_with_parent(parent_pid: int) -> None:
    """End this process when `parent_pid` dies. Linux delivers SIGKILL on the parent's death
    (prctl PR_SET_PDEATHSIG); elsewhere, and as a second guard, a daemon thread notices that the
    parent is gone (we were re-parented)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)      # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:                      # the parent died before the prctl
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="shuzhi-parent-watch", daemon=True).start()
