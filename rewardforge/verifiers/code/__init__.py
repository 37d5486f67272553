"""Judging programs against tests: the tests are parsed (`cases.py`), the program runs in the sandbox
under the in-sandbox driver (`harness.py`), and every verdict is decided here in the trusted parent
(`verify.py`, `compare.py`): expected outputs never enter the sandbox.
"""

from rewardforge.verifiers.code.cases import TestCase, TestSpecError, parse_tests
from rewardforge.verifiers.code.extract import ExtractedCode, extract_code
from rewardforge.verifiers.code.languages import LanguageSpec, get_language
from rewardforge.verifiers.code.verify import CodeVerdict, JudgeOptions, TestVerdict, verify, verify_many

__all__ = [
    "CodeVerdict",
    "ExtractedCode",
    "JudgeOptions",
    "LanguageSpec",
    "TestCase",
    "TestSpecError",
    "TestVerdict",
    "extract_code",
    "get_language",
    "parse_tests",
    "verify",
    "verify_many",
]
