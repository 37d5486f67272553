"""LLM-as-judge: clients for each backend (`client.py`, `openai_server.py`, `local.py`), the prompts
that quote judged text safely (`prompts.py`), verdict parsing (`parse.py`), and the rate limits and
retries shared by every call to one endpoint (`limits.py`).
"""

from rewardforge.verifiers.judge.client import JudgeClient, JudgeFailure, JudgeReply, make_judge_client

__all__ = ["JudgeClient", "JudgeFailure", "JudgeReply", "make_judge_client"]
