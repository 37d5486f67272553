"""The contract every reward speaks (`types.py`) and the machinery every reward uses: composition
(`compose.py`, `stack.py`), names (`registry.py`), scoring (`engine.py`), the verdict cache
(`cache.py`) and killable worker processes (`workers.py`). Imports nothing else of rewardforge."""
