"""The trainer tests' helpers (rf_trainer_support) are imported by name, also from config dotted paths."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
