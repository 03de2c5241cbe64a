"""``calculate``: arithmetic on numbers, by walking a whitelisted AST. Nothing is ever run.

The expression is parsed with :func:`ast.parse` and evaluated node by node: only number
literals, ``+ - * / // % **``, unary ``+ -``, parentheses and a few pure functions
(``abs round min max sqrt``) are allowed; any other node (names, attributes, calls of
anything else, subscripts, lambdas...) is refused. Sizes are bounded so no input can eat
the CPU or memory: the expression's length and depth, exponents, and the digits of results.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable

from pydantic import BaseModel, Field

from app.agent.tools import FunctionTool, ToolError

MAX_CHARS = 500
MAX_DEPTH = 50
MAX_EXPONENT = 10_000
MAX_INT_BITS = 10_000  # about 3 000 decimal digits

Number = int | float

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Number], Number]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_FUNCTIONS: dict[str, Callable[..., Number]] = {
    "abs": lambda x: abs(x),
    "round": lambda x: round(x),
    "min": lambda *xs: min(xs),
    "max": lambda *xs: max(xs),
    "sqrt": math.sqrt,
}


class CalculationError(ToolError):
    user_message = "That expression cannot be calculated."


def calculate(expression: str) -> Number:
    """The value of an arithmetic expression. Raises :class:`CalculationError`."""
    if len(expression) > MAX_CHARS:
        raise CalculationError(f"The expression is longer than {MAX_CHARS} characters.")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:
        raise CalculationError(f"Not an arithmetic expression: {exc}") from exc
    try:
        return _eval(tree.body, 0)
    except ZeroDivisionError as exc:
        raise CalculationError("Division by zero.") from exc
    except (OverflowError, ValueError, TypeError) as exc:
        raise CalculationError(f"Cannot calculate that: {exc}") from exc


def _eval(node: ast.expr, depth: int) -> Number:
    if depth > MAX_DEPTH:
        raise CalculationError(f"The expression is nested more than {MAX_DEPTH} deep.")
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise CalculationError(f"Only numbers are allowed, not {node.value!r}.")
        return _bounded(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = _eval(node.left, depth + 1)
        right = _eval(node.right, depth + 1)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        if isinstance(node.op, ast.Mult | ast.Add | ast.Sub):
            _check_product(left, right, node.op)
        return _bounded(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand, depth + 1))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
        and 0 < len(node.args) <= 20
    ):
        args = [_eval(arg, depth + 1) for arg in node.args]
        return _bounded(_FUNCTIONS[node.func.id](*args))
    raise CalculationError(f"{type(node).__name__} is not allowed; use numbers and + - * / ** %.")


def _check_power(base: Number, exponent: Number) -> None:
    if abs(exponent) > MAX_EXPONENT:
        raise CalculationError(f"Exponents are limited to ±{MAX_EXPONENT}.")
    whole = isinstance(base, int) and isinstance(exponent, int) and exponent > 0
    if whole and abs(base) > 1 and int(base).bit_length() * exponent > MAX_INT_BITS:
        raise CalculationError("The result would be too large.")


def _check_product(left: Number, right: Number, op: ast.operator) -> None:
    ints = isinstance(left, int) and isinstance(right, int) and isinstance(op, ast.Mult)
    if ints and int(left).bit_length() + int(right).bit_length() > MAX_INT_BITS + 1:
        raise CalculationError("The result would be too large.")


def _bounded(value: Number) -> Number:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise CalculationError("The result would be too large.")
    return value


class CalculateArgs(BaseModel):
    expression: str = Field(description="Arithmetic, e.g. '(2 + 3) * 4 ** 2 / 7'.")


async def _run(args: CalculateArgs) -> str:
    return repr(calculate(args.expression))


CALCULATE = FunctionTool(
    "calculate",
    "Evaluate an arithmetic expression exactly: numbers, + - * / // % **, parentheses, "
    "abs, round, min, max, sqrt.",
    CalculateArgs,
    _run,
)
