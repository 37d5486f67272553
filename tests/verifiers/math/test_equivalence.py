"""Math equivalence: each layer, gold-first rules, and every known Math-Verify failure class."""

from __future__ import annotations

import pytest

from rewardforge.verifiers.math.equivalence import MathSettings, Verdict, check_cheap, verify, verify_many
from rewardforge.verifiers.math.gold import parse_gold
from rewardforge.verifiers.math.normalize import normalize
from rewardforge.verifiers.math.numeric import TooLarge, Undefined, evaluate
from rewardforge.verifiers.math.quantities import strip_units
from rewardforge.verifiers.math.structural import parse_structure


def _equal(gold: str, answer: str, **settings: object) -> bool | None:
    verdict = verify(gold, answer, MathSettings(**settings))  # type: ignore[arg-type]
    assert verdict.status == "ok", verdict
    return verdict.equal


# --- Math-Verify failure classes (each must be right here; Math-Verify gets them wrong) ---------


def test_failure_class_text_wrapped_number() -> None:
    assert _equal(r"\text{13}", "13") is True
    assert _equal("13", r"\text{13}") is True
    assert _equal(r"\text{13}", "14") is False


def test_failure_class_sqrt_with_parentheses() -> None:
    assert _equal(r"4\sqrt{2}", r"4\sqrt(2)") is True
    assert _equal("4", r"4\sqrt(2)") is False
    assert _equal(r"4\sqrt(2)", "4") is False


def test_failure_class_different_equations_are_not_equal() -> None:
    assert _equal("3x-y+13=0", "3x+4y+14=0") is False
    assert _equal("x+y=3", "x-y=1") is False
    # ...while genuinely equivalent equations still are
    assert _equal("2x+4y-3=0", r"y=-\frac{1}{2}x+\frac{3}{4}") is True
    assert _equal("x+y=3", "y=3-x") is True
    assert _equal("y = 2x + 3", "2x - y + 3 = 0") is True
    assert _equal("y = 2x + 3", "2x + y + 3 = 0") is False


def test_failure_class_tiny_values_are_compared_relatively() -> None:
    assert _equal(r"\frac{1}{2004!}", r"\frac{1}{2006!}") is False
    assert _equal(r"\frac{1}{2^{99}}", r"\frac{1}{2^{98}}") is False
    assert _equal(r"\frac{1}{2004!}", r"\frac{1}{2004!}") is True
    assert _equal("10^{20}+1", "10^{20}") is False


def test_failure_class_frac_tuples_without_dollars() -> None:
    assert _equal(r"\left(\frac{1}{2}, 3\right)", r"\frac{1}{2}, 3") is True
    assert _equal(r"(\frac{1}{2}, 3)", r"(\frac{1}{2}, 4)") is False
    assert _equal(r"(\frac{1}{2}, 3)", r"(3, \frac{1}{2})") is False


def test_failure_class_bold_answer() -> None:
    assert _equal("73", "**73**") is True
    assert _equal("73", "**73.**") is True
    assert _equal("74", "**73**") is False


def test_failure_class_sqrt_outside_math_delimiters() -> None:
    assert _equal(r"2\sqrt{3}", r"2\sqrt{3}") is True
    assert _equal(r"2\sqrt{3}", r"\sqrt{12}") is True
    assert _equal(r"2\sqrt{3}", r"3\sqrt{2}") is False
    assert _equal(r"2\sqrt{3}", "2") is False


# --- layers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gold", "answer", "layer", "equal"),
    [
        ("13", r" \text{13} ", "string", True),
        (r"\frac{\pi}{2}", r"\dfrac{\pi}{2}", "string", True),
        ("Monday", r"\text{monday}", "string", True),
        ("1000", "1,000", "numeric", True),
        ("1000", r"1\,000", "numeric", True),
        ("3.5", "3,5", "numeric", True),
        ("0.5", "50%", "numeric", True),
        (r"50\%", "50", "numeric", True),
        (r"50\%", "0.5", "numeric", True),
        ("50", "0.5", "numeric", False),
        ("5", r"\$5", "string", True),
        ("5", "5 dollars", "numeric", True),
        ("10", "10 cm", "numeric", True),
        ("10 cm", "10", "numeric", True),
        ("10", r"10\text{ cm}", "string", True),  # a trailing \text{} word decorates the value
        (r"10\text{ cm}", "10", "string", True),
        (r"\frac{7}{2}", r"3\frac{1}{2}", "numeric", True),
        (r"\frac{7}{2}", "3 1/2", "numeric", True),
        ("120000", r"1.2 \times 10^5", "numeric", True),
        ("120000", "1.2e5", "numeric", True),
        (r"\frac{1}{3}", "0.3333333", "numeric", True),
        (r"\frac{1}{3}", "0.333", "numeric", False),
        ("1000000", "1000001", "numeric", False),
        (r"\frac{\pi}{2}", "1.5707963", "numeric", True),
        ("2x", "2", "identity", False),
        ("x^2-1", "(x-1)(x+1)", "identity", True),
        (r"\frac{1}{x}", "x^{-1}", "identity", True),
        (r"\frac{x^2-1}{x-1}", "x+1", "identity", True),
        ("2x+1", "2y+1", "identity", False),
        ("x^2", "x^3", "identity", False),
        (r"\alpha\beta", r"\beta\cdot\alpha", "identity", True),
        ("(x, x^2)", r"(x, x\cdot x)", "structural", True),
        (r"\sin^2x+\cos^2x", "1", "identity", True),
        (r"\frac{\sqrt{x}}{x}", r"\frac{1}{\sqrt{x}}", "identity", True),
        (r"\sin(2x)", r"2\sin x\cos x", "identity", True),
        (r"\sqrt{x}", "x^{1/2}", "identity", True),
        (r"\sin x", r"\cos x", "identity", False),
        (r"\ln(x^2)", r"2\ln x", "identity", True),
        (r"\sqrt{x^2}", "x", "identity", False),
        (r"\text{listen}", r"\text{silent}", "string", False),
        (r"\text{all even numbers}", r"\text{All  Even numbers}", "string", True),
        (r"\text{no solution}", r"\emptyset", "structural", True),
        (r"\log 8", r"3\log 2", "numeric", True),
        (r"\sin\frac{\pi}{6}", r"\frac{1}{2}", "numeric", True),
        ("[1,2)", "(1,2)", "structural", False),
        ("[1,2)", r"\left[1, 2\right)", "string", True),
        (r"\{1,2\}", r"\{2,1\}", "structural", True),
        ("1, 2", "2, 1", "structural", True),
        ("(1,2)", "(2,1)", "structural", False),
        ("(1,2)", r"\{1,2\}", "structural", False),
        (r"\begin{pmatrix}1\\2\end{pmatrix}", r"\begin{bmatrix}1\\ 2\end{bmatrix}", "structural", True),
        (r"\begin{pmatrix}1\\2\end{pmatrix}", r"\begin{pmatrix}2\\1\end{pmatrix}", "structural", False),
        (r"(-\infty, 0) \cup (1, \infty)", r"(1,\infty)\cup(-\infty,0)", "structural", True),
        (r"\{(1, 2), (3, 4)\}", r"\{(3,4),(1,2)\}", "structural", True),
        ("12:00", "1:00", "structural", False),
        ("3:4", "3 : 4", "string", True),
        ("3:4", "6:8", "structural", False),
        ("3:4", r"\frac{3}{4}", "structural", False),
        ("7", r"7^{\mathrm{th}}", "string", True),  # ordinals
        ("3", "3rd", "string", True),
        ("21", r"21^\text{st} \text{ floor}", "string", True),
        ("250", r"250 \text{ kJ mol}^{-1}", "string", True),  # trailing \text{} units, compound
        ("6.5", r"6.5 \mathrm{~m}", "string", True),
        ("540", "540 nm", "numeric", True),  # science unit words
        ("2.5", "2.5 eV", "numeric", True),
        ("2,5,7", "(2, 5, 7)", "structural", True),  # a bare gold for (x, y, z)
        ("2,5,7", "(7, 5, 2)", "structural", False),
        ("2,5,7", "[2, 5, 7]", "structural", False),
        ("T_{1},T_{2}", "T_1, T_2", "string", True),  # subscripts, one way
        ("r_0^2", r"r_{0}\cdot r_0", "identity", True),  # subscripted names are variables
        ("a_1+a_2", "a_1+a_3", "identity", False),
    ],
)
def test_cheap_layers(gold: str, answer: str, layer: str | None, equal: bool) -> None:
    verdict = check_cheap(gold, answer)
    if layer is None:
        assert not isinstance(verdict, Verdict)  # undecided: needs sympy
        assert _equal(gold, answer) is equal
        return
    assert isinstance(verdict, Verdict) and verdict.status == "ok", verdict
    assert (verdict.layer, verdict.equal) == (layer, equal)


@pytest.mark.parametrize(
    ("gold", "answer", "equal"),
    [
        ("x<1", "-x>-1", True),
        ("x<1", "-x<-1", False),
        ("x+y=3", "y=3-x", True),
        ("x+y=3", "y=3+x", False),
        (r"\sum_{k=1}^{n} k", r"\frac{n(n+1)}{2}", True),
        (r"\int_0^1 x\,dx", r"\frac{1}{3}", False),
    ],
)
def test_symbolic_layer(gold: str, answer: str, equal: bool) -> None:
    verdict = verify(gold, answer, MathSettings(timeout=30.0))  # sympy under a loaded machine
    assert verdict.status == "ok", verdict
    assert (verdict.layer, verdict.equal) == ("symbolic", equal)


def test_gold_first_decimal_comma_versus_list() -> None:
    assert _equal("3.5", "3,5") is True  # numeric gold: a decimal comma
    assert _equal("3, 5", "3,5") is True  # list gold: the list
    assert _equal("3, 5", "3.5") is False


def test_gold_assignment_asks_for_the_value() -> None:
    assert _equal("x=5", "5") is True
    assert _equal("5", "x = 5") is True
    assert _equal(r"x \in [1,2]", "[1,2]") is True


def test_tolerance_is_configurable_and_only_for_rounded_values() -> None:
    assert _equal("3.14", r"\pi") is False
    assert _equal("3.14", r"\pi", rel_tol=1e-3) is True
    assert _equal("1000000", "1000001", rel_tol=1e-3) is False  # both exact integers: exact compare


def test_gold_that_cannot_be_parsed_is_skipped() -> None:
    verdict = verify(r"\frac{1}{0}", "5")
    assert verdict.status == "skipped" and "gold" in (verdict.reason or "")
    verdict = verify(r"\frac{{", "5")
    assert verdict.status == "skipped" and verdict.equal is None


def test_gold_answer_reads_solutions() -> None:
    def gold(reference: object) -> str | None:
        parsed = parse_gold(reference)
        return parsed.text if parsed else None

    assert gold(r"We compute... so the result is $\boxed{\frac{3}{4}}$.") == r"\frac{3}{4}"
    assert gold("Janet sells 16 - 3 - 4 = 9 eggs.\n#### 18") == "18"
    assert gold(" 42 ") == "42"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (r"10^{10^{10^{10}}}", "too large"),
        ("9!!!!!!!!", "too large"),
        (r"\frac{1}{0}", "division by zero"),
        ("NaN", "not a number"),
        ("1" * 5000, "too long"),
        ("{" * 10_000 + "1" + "}" * 10_000, "too long"),
        ("(" * 80 + "1" + ")" * 80, "nested deeper"),
    ],
)
def test_hostile_answers_are_errors_decided_in_the_parent(answer: str, reason: str) -> None:
    verdict = check_cheap("5", answer)
    assert isinstance(verdict, Verdict) and verdict.status == "error", verdict
    assert reason in (verdict.reason or "")


def test_unicode_confusables_are_normalised() -> None:
    assert _equal("12", "１２") is True
    assert _equal("-5", "\u22125") is True
    assert _equal("-5", "5") is False
    assert normalize("３．５") == "3.5"


def test_infinity_is_a_value_not_a_crash() -> None:
    assert _equal("5", r"\infty") is False
    assert _equal(r"\infty", "∞") is True
    assert _equal(r"-\infty", r"\infty") is False


def test_verify_many_dedups_and_keeps_order() -> None:
    pairs = [("2", "2"), ("2", "3"), ("2", "2"), ("x^2", "x*x"), ("2", "3")]
    verdicts = verify_many(pairs)
    assert [v.equal for v in verdicts] == [True, False, True, True, False]


def test_number_parser_limits() -> None:
    with pytest.raises(TooLarge):
        evaluate("2^{100000}")
    with pytest.raises(TooLarge):
        evaluate("4000!")
    with pytest.raises(Undefined):
        evaluate("0^{-1}")
    assert evaluate("2^{10}").exact == 1024
    assert evaluate(r"\sqrt[3]{27}").exact == 3
    assert strip_units("$1,250.50") == ("1,250.50", False)
    assert strip_units("12 km/h") == ("12", False)
    assert strip_units("2x") == ("2x", False)


def test_structure_parsing() -> None:
    assert parse_structure("5") is None
    assert parse_structure("1,000") is None  # thousands, not a list
    interval = parse_structure("[1,2)")
    assert interval is not None and (interval.kind, interval.left, interval.right) == ("ordered", "[", ")")
    assert parse_structure(r"\{1,2\}").kind == "set"  # type: ignore[union-attr]
    assert parse_structure("(1)+(2)") is None
