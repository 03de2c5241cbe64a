"""``calculate``: the AST whitelist, its bounds, and Hypothesis properties."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.agent.builtin.calculate import CALCULATE, CalculationError, calculate

ATTACKS = [
    "__import__('os').system('touch /tmp/pwned')",
    "open('/etc/passwd').read()",
    "(1).__class__.__bases__",
    "[x for x in range(10)]",
    "lambda: 1",
    "'a' * 10",
    "x",
    "abs.__self__",
    "True + 1",
    "max(*[1, 2])",
    "round(1, ndigits=2)",
    "exec('1')",
    "{1: 2}",
]


@pytest.mark.parametrize("expression", ATTACKS)
def test_anything_but_arithmetic_is_refused(expression: str) -> None:
    with pytest.raises(CalculationError):
        calculate(expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("9 ** 99999", "Exponents are limited"),
        ("99 ** 9999", "too large"),
        ("(10 ** 3000) * (10 ** 3000)", "too large"),
        ("1 / 0", "Division by zero."),
        ("2.0 ** 5000", "Cannot calculate"),
        ("-" * 60 + "1", "nested more than"),
        ("1 +" * 300 + "1", "longer than"),
        ("1 +", "Not an arithmetic expression"),
    ],
)
def test_bounds_give_clear_errors(expression: str, message: str) -> None:
    with pytest.raises(CalculationError, match=message):
        calculate(expression)


def test_it_calculates() -> None:
    assert calculate("(2 + 3) * 4 ** 2 / 8") == 10.0
    assert calculate("2 ** 100") == 2**100
    assert calculate("sqrt(16) + abs(-2) + max(1, 5) + min(3, 4) + round(2.6)") == 17.0
    assert calculate("-7 // 2 + 7 % 3") == -3


async def test_the_tool_returns_text_and_rejects_missing_arguments() -> None:
    assert await CALCULATE.call({"expression": "6 * 7"}) == "42"
    assert CALCULATE.spec.parameters["required"] == ["expression"]


def test_the_evaluator_never_calls_eval_or_compile() -> None:
    source = Path("app/agent/builtin/calculate.py").read_text(encoding="utf-8")
    called = {
        node.func.id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not called & {"eval", "exec", "compile", "__import__", "getattr"}


# ----- properties ----------------------------------------------------------------------------

numbers = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    if depth > 3 or draw(st.booleans()):
        value = draw(numbers)
        return f"({value!r})"
    op = draw(st.sampled_from(["+", "-", "*", "/", "//", "%"]))
    left = draw(expressions(depth + 1))
    right = draw(expressions(depth + 1))
    return f"({left} {op} {right})"


@given(expressions())
@settings(max_examples=300, deadline=None)
def test_it_matches_python_arithmetic_on_valid_input(expression: str) -> None:
    try:
        expected = eval(expression, {"__builtins__": {}})  # the oracle, on generated arithmetic
    except (ZeroDivisionError, OverflowError):
        with pytest.raises(CalculationError):
            calculate(expression)
        return
    assert calculate(expression) == expected or (expected != expected)  # NaN never equals


PAYLOADS = ["print(1)", "open('f')", "eval('1')", "exec('1')", "input()", "breakpoint()"]
TRIPWIRES = ("print", "open", "eval", "exec", "input", "breakpoint")


@given(
    st.lists(
        st.one_of(st.sampled_from(PAYLOADS), numbers.map(repr), st.text(max_size=8)),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from([" + ", " * ", ", ", "", " ** "]),
)
@settings(max_examples=300, deadline=None)
def test_arbitrary_text_never_runs_code(parts: list[str], glue: str) -> None:
    """Any text, payloads mixed in, calculates to a number or raises CalculationError, and
    no builtin that code would reach (print, open, eval, exec...) is ever called."""
    import builtins

    text = glue.join(parts)
    tripped: list[str] = []
    saved = {name: getattr(builtins, name) for name in TRIPWIRES}

    def tripwire(name: str) -> object:
        return lambda *args, **kwargs: tripped.append(name)

    for name in TRIPWIRES:
        setattr(builtins, name, tripwire(name))
    try:
        result = calculate(text)
    except CalculationError:
        result = None
    finally:
        for name, original in saved.items():
            setattr(builtins, name, original)
    assert tripped == []
    assert result is None or isinstance(result, int | float)
