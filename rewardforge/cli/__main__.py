"""`python -m rewardforge.cli`: the same as the `rewardforge` command."""

from rewardforge.cli import app

app()
