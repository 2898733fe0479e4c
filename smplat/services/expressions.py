"""A safe evaluator for operator-written calculator expressions such as `amount / days`.

The expression is parsed with `ast` and walked node by node against a whitelist: numbers,
the names the caller provides, + - * / // % **, unary +/-, parentheses and a few pure
functions (min, max, round, floor, ceil, abs). Everything else (attribute access,
subscripts, lambdas, comprehensions, strings, unknown names) is refused before anything
runs. Arithmetic is Decimal; sizes, depth, exponents and magnitudes are bounded so a
hostile expression cannot exhaust memory or CPU. `eval` is never used.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, DivisionByZero, InvalidOperation, localcontext

MAX_LENGTH = 200
MAX_NODES = 60
MAX_DEPTH = 12
MAX_EXPONENT = 8
MAX_MAGNITUDE = Decimal(10) ** 15


class ExpressionError(ValueError):
    """The expression is not allowed or cannot be computed; the message says why."""


def _round(value: Decimal, places: Decimal = Decimal(0)) -> Decimal:
    if places != places.to_integral_value() or not 0 <= places <= 6:
        raise ExpressionError("round() takes 0 to 6 decimal places")
    return value.quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)


_FUNCTIONS = {
    "min": lambda *args: min(args),
    "max": lambda *args: max(args),
    "abs": lambda value: abs(value),
    "round": _round,
    "floor": lambda value: Decimal(math.floor(value)),
    "ceil": lambda value: Decimal(math.ceil(value)),
}
_ARITY = {"min": (1, 8), "max": (1, 8), "abs": (1, 1), "round": (1, 2), "floor": (1, 1), "ceil": (1, 1)}
_BINARY = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


def _check_shape(tree: ast.AST) -> None:
    count = 0

    def walk(node: ast.AST, depth: int) -> None:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise ExpressionError(f"expression is too long (more than {MAX_NODES} parts)")
        if depth > MAX_DEPTH:
            raise ExpressionError(f"expression is nested too deeply (more than {MAX_DEPTH} levels)")
        for child in ast.iter_child_nodes(node):
            walk(child, depth + 1)

    walk(tree, 0)


def _number(value: Decimal) -> Decimal:
    if not value.is_finite() or abs(value) > MAX_MAGNITUDE:
        raise ExpressionError("result is out of range")
    return value


def _evaluate(node: ast.AST, names: Mapping[str, Decimal]) -> Decimal:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, names)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ExpressionError("only numbers are allowed as constants")
        return _number(Decimal(str(node.value)))
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise ExpressionError(f"unknown name: {node.id}")
        return names[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        value = _evaluate(node.operand, names)
        return value if isinstance(node.op, ast.UAdd) else -value
    if isinstance(node, ast.BinOp) and isinstance(node.op, _BINARY):
        left = _evaluate(node.left, names)
        right = _evaluate(node.right, names)
        if isinstance(node.op, ast.Pow):
            if right != right.to_integral_value() or abs(right) > MAX_EXPONENT:
                raise ExpressionError(f"exponents must be whole numbers between -{MAX_EXPONENT} and {MAX_EXPONENT}")
            if left == 0 and right < 0:
                raise ExpressionError("division by zero")
            return _number(left ** int(right))
        if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
            raise ExpressionError("division by zero")
        if isinstance(node.op, ast.Add):
            return _number(left + right)
        if isinstance(node.op, ast.Sub):
            return _number(left - right)
        if isinstance(node.op, ast.Mult):
            return _number(left * right)
        if isinstance(node.op, ast.Div):
            return _number(left / right)
        if isinstance(node.op, ast.FloorDiv):
            return _number(left // right)
        return _number(left % right)
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            raise ExpressionError("only min, max, round, floor, ceil and abs can be called")
        if node.keywords:
            raise ExpressionError("functions take positional arguments only")
        low, high = _ARITY[node.func.id]
        if not low <= len(node.args) <= high:
            raise ExpressionError(f"{node.func.id}() takes {low} to {high} arguments")
        args = [_evaluate(arg, names) for arg in node.args]
        return _number(_FUNCTIONS[node.func.id](*args))
    raise ExpressionError(f"{type(node).__name__} is not allowed in a calculator expression")


def parse(expression: str) -> ast.Expression:
    """Parse and check an expression without evaluating it (the admin uses this on save)."""
    if not isinstance(expression, str) or not expression.strip():
        raise ExpressionError("the expression is empty")
    if len(expression) > MAX_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ExpressionError("the expression is not valid arithmetic") from None
    _check_shape(tree)
    return tree


def evaluate(expression: str, variables: Mapping[str, int | float | Decimal | str]) -> Decimal:
    """Evaluate `expression` with `variables`; raises ExpressionError on anything not allowed."""
    tree = parse(expression)
    names: dict[str, Decimal] = {}
    for name, value in variables.items():
        try:
            names[str(name)] = _number(Decimal(str(value)))
        except InvalidOperation:
            raise ExpressionError(f"{name} is not a number") from None
    with localcontext() as ctx:
        ctx.prec = 28
        ctx.traps[DivisionByZero] = True
        try:
            return _evaluate(tree, names)
        except (InvalidOperation, DivisionByZero, OverflowError):
            raise ExpressionError("the expression cannot be computed") from None
