"""shuzhi: offline drafting and checking of Chinese annual duty reports (述职报告)."""

import os as _os

# Chroma must never phone home, whichever entry point imports us first.
_os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
_os.environ.setdefault("HF_HUB_OFFLINE", "1")
_os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

__version__ = "0.1.0"
