"""The calculator evaluator: arithmetic works, everything else is refused before it runs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smplat.services.expressions import ExpressionError, evaluate, parse

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("label", "expression", "variables", "expected"),
    [
        ("division", "amount / days", {"amount": 1000, "days": 4}, Decimal("250")),
        ("precedence", "a + b * 2", {"a": 1, "b": 3}, Decimal("7")),
        ("parentheses", "(a + b) * 2", {"a": 1, "b": 3}, Decimal("8")),
        ("unary minus", "-a + 10", {"a": 4}, Decimal("6")),
        ("floor division", "amount // 3", {"amount": 1000}, Decimal("333")),
        ("modulo", "amount % 7", {"amount": 100}, Decimal("2")),
        ("small power", "2 ** 8", {}, Decimal("256")),
        ("round half up", "round(amount / days)", {"amount": 1000, "days": 8}, Decimal("125")),
        ("round to places", "round(10 / 3, 2)", {}, Decimal("3.33")),
        ("ceil", "ceil(amount / days)", {"amount": 1000, "days": 3}, Decimal("334")),
        ("floor", "floor(amount / days)", {"amount": 1000, "days": 3}, Decimal("333")),
        ("min max", "max(min(a, b), 1)", {"a": 5, "b": 9}, Decimal("5")),
        ("abs", "abs(a - b)", {"a": 2, "b": 9}, Decimal("7")),
        ("decimal exact", "0.1 + 0.2", {}, Decimal("0.3")),
        ("string numbers accepted", "amount / days", {"amount": "1000", "days": "5"}, Decimal("200")),
    ],
)
def test_evaluates_arithmetic(label: str, expression: str, variables: dict, expected: Decimal) -> None:
    # given an allowed expression / when evaluated / then the exact value comes back
    assert evaluate(expression, variables) == expected


@pytest.mark.parametrize(
    ("label", "expression", "message"),
    [
        ("attribute access", "amount.__class__", "Attribute is not allowed"),
        ("dunder import", "__import__('os')", "only min, max, round, floor, ceil and abs can be called"),
        ("builtin call", "open('/etc/passwd')", "only min, max, round, floor, ceil and abs can be called"),
        ("method call", "(1).bit_length()", "only min, max, round, floor, ceil and abs can be called"),
        ("subscript", "amount[0]", "Subscript is not allowed"),
        ("lambda", "(lambda: 1)()", "only min, max, round, floor, ceil and abs can be called"),
        ("comprehension", "[x for x in (1, 2)]", "ListComp is not allowed"),
        ("string constant", "'a' * 10", "only numbers are allowed as constants"),
        ("boolean constant", "True + 1", "only numbers are allowed as constants"),
        ("unknown name", "amount / weeks", "unknown name: weeks"),
        ("huge exponent", "9 ** 999999999", "exponents must be whole numbers between -8 and 8"),
        ("chained huge exponent", "2 ** 8 ** 8", "exponents must be whole numbers between -8 and 8"),
        ("fractional exponent", "2 ** 0.5", "exponents must be whole numbers between -8 and 8"),
        ("division by zero", "amount / 0", "division by zero"),
        ("modulo by zero", "amount % (days - days)", "division by zero"),
        ("magnitude", "99999999 * 99999999", "result is out of range"),
        ("deep nesting", "(" * 40 + "1" + ")" * 40 + " + " + "-" * 30 + "1", "nested too deeply"),
        ("many parts", "+".join(["max(1,2,3,4,5,6,7,8)"] * 7), "too long"),
        ("too long text", "1" + " + 1" * 60, "longer than 200 characters"),
        ("keyword argument", "round(1, ndigits=2)", "positional arguments only"),
        ("wrong arity", "abs(1, 2)", "abs() takes 1 to 1 arguments"),
        ("comparison", "amount > 3", "Compare is not allowed"),
        ("conditional", "1 if amount else 2", "IfExp is not allowed"),
        ("walrus", "(x := 5)", "NamedExpr is not allowed"),
        ("syntax error", "amount /", "not valid arithmetic"),
        ("statement", "import os", "not valid arithmetic"),
        ("empty", "   ", "empty"),
        ("huge parse nesting", "(" * 5000 + "1" + ")" * 5000, "longer than 200 characters"),
    ],
)
def test_refuses_hostile_or_invalid_input(label: str, expression: str, message: str) -> None:
    # given an expression outside the whitelist
    # when evaluated / then it is refused with a message saying why, nothing runs
    with pytest.raises(ExpressionError) as excinfo:
        evaluate(expression, {"amount": 1000, "days": 5})
    assert message in str(excinfo.value)


def test_non_numeric_variable_is_refused() -> None:
    # given a variable that is not a number / when evaluated / then refused
    with pytest.raises(ExpressionError, match="amount is not a number"):
        evaluate("amount / 2", {"amount": "lots"})


def test_parse_checks_without_evaluating() -> None:
    # given a well-formed expression with names nobody provided yet
    # when parsed only / then it is accepted (the admin checks expressions on save)
    tree = parse("amount / days")
    assert tree.body.__class__.__name__ == "BinOp"
