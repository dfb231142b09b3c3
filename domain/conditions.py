"""Conditions: a small, safe expression language over a run's data.

Expressions are Python-like (`price_change_pct > 0.05 and not muted`) and evaluated by
`simpleeval <https://github.com/danthedeckie/simpleeval>`_, locked down further:

- the expression is parsed once with :func:`ast.parse` in ``eval`` mode (a single expression,
  never a statement) and every node is checked against an allow-list: names, constants,
  arithmetic, comparisons, ``and/or/not``, ``in``, ``x if c else y``, field access, subscripts,
  list/tuple literals and calls of a handful of pure built-ins by name. Lambdas, comprehensions,
  f-strings, keyword arguments, starred arguments, walrus and anything else are refused at
  create time with the position of the offending node;
- field access (``last_run.data.price``) reads keys of JSON objects only: no Python attribute is
  ever looked up, so ``__class__``, ``__globals__`` and friends are unreachable;
- the tree is bounded (length, node count, depth), and every arithmetic operator checks the size
  of its result before computing it (no ``9**9**9``, no ``"x" * 10**9``), so an evaluation is a
  bounded amount of work: there is no loop construct at all.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from simpleeval import InvalidExpression, SimpleEval  # type: ignore[import-untyped]

from domain.inputs import Text, checked_by
from domain.localtime import DAY_NAMES

Stage = Literal["after_run", "before_run"]

MAX_LENGTH = 2000
MAX_NODES = 300
MAX_DEPTH = 40
MAX_INT_BITS = 1024
MAX_SEQUENCE = 100_000


class ConditionSyntaxError(ValueError):
    """An expression refused at parse time; ``position`` is 1-based (column in the text)."""

    def __init__(self, message: str, position: int | None = None) -> None:
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"{message}{where}")
        self.position = position


class ConditionRuntimeError(ValueError):
    """An expression that could not be evaluated (missing variable, bad operand, too large)."""


# ---------------------------------------------------------------------------------------------
# Parsing and static checks


_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.UnaryOp,
    ast.BinOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.List,
    ast.Tuple,
    ast.Call,
    # operators
    ast.And,
    ast.Or,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
)

_DESCRIBED = {
    ast.Lambda: "lambda",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "comprehension",
    ast.JoinedStr: "f-string",
    ast.NamedExpr: "assignment (:=)",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Starred: "starred argument",
    ast.Dict: "dict literal",
    ast.Set: "set literal",
    ast.Is: "'is' (use ==)",
    ast.IsNot: "'is not' (use !=)",
    ast.BitAnd: "bitwise operator",
    ast.BitOr: "bitwise operator",
    ast.BitXor: "bitwise operator",
    ast.LShift: "shift operator",
    ast.RShift: "shift operator",
    ast.Invert: "bitwise operator",
    ast.MatMult: "matrix operator",
}


@dataclass(frozen=True)
class ParsedCondition:
    """An expression that passed every static check."""

    expression: str
    tree: ast.expr


def parse_condition(expression: str) -> ParsedCondition:
    """Parse and check ``expression``; raises :class:`ConditionSyntaxError` with a position."""
    if not expression.strip():
        raise ConditionSyntaxError("expression is empty")
    if len(expression) > MAX_LENGTH:
        raise ConditionSyntaxError(f"expression is longer than {MAX_LENGTH} characters")
    try:
        module = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        lead = len(expression) - len(expression.lstrip())
        if exc.lineno in (None, 1) and exc.offset and exc.offset > 0:
            position = lead + exc.offset
        else:  # the input ended too early: the error is right after it
            position = len(expression.rstrip()) + 1
        raise ConditionSyntaxError(f"syntax error: {exc.msg}", position) from None
    except (RecursionError, MemoryError, ValueError):
        raise ConditionSyntaxError("expression is too deeply nested") from None
    _check_tree(module, expression)
    return ParsedCondition(expression=expression, tree=module.body)


def _check_tree(root: ast.Expression, expression: str) -> None:
    lead = len(expression) - len(expression.lstrip())
    count = 0
    stack: list[tuple[ast.AST, int, int | None]] = [(root, 0, None)]
    while stack:  # iterative: a deep tree must not exhaust the Python stack here
        node, depth, parent_position = stack.pop()
        count += 1
        offset = getattr(node, "col_offset", None)
        # Operators carry no position of their own: report the expression they belong to.
        position = lead + offset + 1 if offset is not None else parent_position
        if count > MAX_NODES:
            raise ConditionSyntaxError(f"expression has more than {MAX_NODES} parts", position)
        if depth > MAX_DEPTH:
            raise ConditionSyntaxError(
                f"expression is nested more than {MAX_DEPTH} levels deep", position
            )
        if not isinstance(node, _ALLOWED_NODES):
            what = _DESCRIBED.get(type(node), type(node).__name__)
            raise ConditionSyntaxError(f"{what} is not allowed", position)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                known = ", ".join(sorted(FUNCTIONS))
                raise ConditionSyntaxError(
                    f"only these functions can be called, by name: {known}", position
                )
            if node.keywords:
                raise ConditionSyntaxError("keyword arguments are not allowed", position)
            children: list[ast.AST] = list(node.args)  # the function name is not a variable
        else:
            children = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ConditionSyntaxError(f"field '{node.attr}' is not allowed", position)
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            raise ConditionSyntaxError(f"name '{node.id}' is not allowed", position)
        if isinstance(node, ast.Constant) and not isinstance(
            node.value, str | int | float | bool | type(None)
        ):
            raise ConditionSyntaxError(
                f"{type(node.value).__name__} literals are not allowed", position
            )
        stack.extend((child, depth + 1, position) for child in children)


# ---------------------------------------------------------------------------------------------
# Bounded operators and functions


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, str | list | tuple) else None


def _check_int(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ConditionRuntimeError("number too large")
    return value


def _add(a: Any, b: Any) -> Any:
    sa, sb = _size(a), _size(b)
    if sa is not None and sb is not None and sa + sb > MAX_SEQUENCE:
        raise ConditionRuntimeError(f"result longer than {MAX_SEQUENCE}")
    return _check_int(a + b)


def _mul(a: Any, b: Any) -> Any:
    for seq, times in ((a, b), (b, a)):
        size = _size(seq)
        if size is not None and isinstance(times, int) and size * max(times, 0) > MAX_SEQUENCE:
            raise ConditionRuntimeError(f"result longer than {MAX_SEQUENCE}")
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS:
        raise ConditionRuntimeError("number too large")
    return a * b


def _pow(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        if b * (abs(a).bit_length() - 1) > MAX_INT_BITS:
            raise ConditionRuntimeError("number too large")
    if isinstance(a, int | float) and isinstance(b, int | float) and abs(b) > 10_000:
        if not (isinstance(a, int) and abs(a) <= 1):
            raise ConditionRuntimeError("exponent too large")
    result = _check_int(a**b)
    if isinstance(result, complex):
        raise ConditionRuntimeError("complex result")
    return result


def _numeric(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        return _check_int(fn(a, b))

    return apply


def _contains(item: Any, container: Any) -> bool:
    if isinstance(container, str) and not isinstance(item, str):
        raise ConditionRuntimeError("'in <text>' needs text on the left")
    return item in container


OPERATORS: dict[type[ast.AST], Callable[..., Any]] = {
    ast.Add: _add,
    ast.Sub: _numeric(operator.sub),
    ast.Mult: _mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: _numeric(operator.floordiv),
    ast.Mod: _numeric(operator.mod),
    ast.Pow: _pow,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Gt: operator.gt,
    ast.Lt: operator.lt,
    ast.GtE: operator.ge,
    ast.LtE: operator.le,
    ast.Not: operator.not_,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.In: _contains,
    ast.NotIn: lambda item, container: not _contains(item, container),
}


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ConditionRuntimeError("expected text")
    return value


def _to_int(value: Any) -> int:
    if isinstance(value, str) and len(value) > 100:
        raise ConditionRuntimeError("text too long for int()")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConditionRuntimeError("int() of a non-finite number")
    return int(value)


def _to_float(value: Any) -> float:
    if isinstance(value, str) and len(value) > 100:
        raise ConditionRuntimeError("text too long for float()")
    return float(value)


def _to_str(value: Any) -> str:
    if isinstance(value, list | tuple | dict) and len(value) > 1000:
        raise ConditionRuntimeError("value too large for str()")
    return str(value)


def _round(value: Any, digits: Any = 0) -> Any:
    if not isinstance(digits, int) or abs(digits) > 100:
        raise ConditionRuntimeError("round() digits must be a small integer")
    return round(value, digits)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len,
    "abs": abs,
    "min": min,
    "max": max,
    "round": _round,
    "int": _to_int,
    "float": _to_float,
    "str": _to_str,
    "bool": bool,
    "lower": lambda value: _text(value).lower(),
    "upper": lambda value: _text(value).upper(),
    "startswith": lambda value, prefix: _text(value).startswith(_text(prefix)),
    "endswith": lambda value, suffix: _text(value).endswith(_text(suffix)),
}


class _Evaluator(SimpleEval):
    """simpleeval with our node set: no attribute lookups, no statements, no f-strings."""

    def __init__(self, names: Mapping[str, Any]) -> None:
        super().__init__(operators=dict(OPERATORS), functions=dict(FUNCTIONS), names=dict(names))
        self.nodes = {
            ast.Name: self._eval_name,
            ast.Constant: self._eval_constant,
            ast.UnaryOp: self._eval_unaryop,
            ast.BinOp: self._eval_binop,
            ast.BoolOp: self._eval_boolop,
            ast.Compare: self._eval_compare,
            ast.IfExp: self._eval_ifexp,
            ast.Call: self._eval_call,
            ast.Subscript: self._eval_subscript,
            ast.Slice: self._eval_slice,
            ast.Attribute: self._eval_attribute,
            ast.List: self._eval_sequence,
            ast.Tuple: self._eval_sequence,
        }

    def _eval(self, node: ast.AST) -> Any:
        # Values are JSON data and our own results, never functions or modules, so the
        # library's deep scan of every intermediate container is not needed.
        try:
            handler = self.nodes[type(node)]
        except KeyError:
            raise ConditionRuntimeError(f"{type(node).__name__} is not allowed") from None
        return handler(node)

    def _eval_name(self, node: ast.Name) -> Any:
        if node.id in ("True", "true"):
            return True
        if node.id in ("False", "false"):
            return False
        if node.id in ("None", "null"):
            return None
        if node.id not in self.names:
            raise ConditionRuntimeError(f"name '{node.id}' is not defined")
        return self.names[node.id]

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        """``a.b`` reads key ``b`` of the JSON object ``a``; nothing else has fields."""
        base = self._eval(node.value)
        if not isinstance(base, dict):
            raise ConditionRuntimeError(f"'.{node.attr}': not an object")
        if node.attr not in base:
            raise ConditionRuntimeError(f"field '{node.attr}' is not defined")
        return base[node.attr]

    def _eval_subscript(self, node: ast.Subscript) -> Any:
        base = self._eval(node.value)
        key = self._eval(node.slice)
        if not isinstance(base, dict | list | tuple | str):
            raise ConditionRuntimeError("only objects, lists and text can be indexed")
        if isinstance(key, slice) and isinstance(base, dict):
            raise ConditionRuntimeError("objects cannot be sliced")
        try:
            return base[key]
        except (KeyError, IndexError):
            raise ConditionRuntimeError(f"no item {key!r}") from None

    def _eval_call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise ConditionRuntimeError("only the documented functions can be called")
        args = [self._eval(arg) for arg in node.args]
        return FUNCTIONS[node.func.id](*args)

    def _eval_sequence(self, node: ast.List | ast.Tuple) -> list[Any]:
        return [self._eval(item) for item in node.elts]


# ---------------------------------------------------------------------------------------------
# Evaluation


@dataclass(frozen=True)
class Outcome:
    """What an evaluation gave: the truth value, or False and why."""

    value: bool
    error: str | None = None


def evaluate(expression: str, variables: Mapping[str, Any]) -> Outcome:
    """Evaluate ``expression`` over ``variables``; any failure is ``False`` with the reason."""
    try:
        parsed = parse_condition(expression)
        evaluator = _Evaluator(variables)
        evaluator.expr = expression
        result = evaluator._eval(parsed.tree)
        return Outcome(value=bool(result))
    except ConditionSyntaxError as exc:
        return Outcome(False, f"invalid expression: {exc}")
    except ConditionRuntimeError as exc:
        return Outcome(False, str(exc))
    except (InvalidExpression, ArithmeticError, TypeError, ValueError) as exc:
        return Outcome(False, f"{type(exc).__name__}: {exc}"[:500])
    except (RecursionError, MemoryError):
        return Outcome(False, "expression too complex to evaluate")


def after_run_variables(output: str | None, data: Mapping[str, Any] | None) -> dict[str, Any]:
    """Variables of an ``after_run`` condition: the data keys, plus ``output`` and ``data``."""
    values = dict(data or {})
    return {**values, "output": output, "data": values}


def before_run_variables(
    last_run: Mapping[str, Any] | None, now: datetime, timezone: str
) -> dict[str, Any]:
    """Variables of a ``before_run`` condition.

    The previous run's ``data`` keys at top level, ``last_run`` (``status``, ``output``,
    ``data``; all empty when the job never ran) and ``now`` in the job's time zone.
    """
    last = dict(last_run or {})
    data = dict(last.get("data") or {})
    local = now.astimezone(ZoneInfo(timezone))
    return {
        **data,
        "last_run": {
            "status": last.get("status"),
            "output": last.get("output"),
            "data": data,
        },
        "now": {
            "hour": local.hour,
            "minute": local.minute,
            "weekday": DAY_NAMES[local.weekday()],
            "date": local.date().isoformat(),
        },
    }


# ---------------------------------------------------------------------------------------------
# A job's condition


class Condition(BaseModel):
    """A safe expression gating the run (before_run) or its delivery (after_run)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["expression"] = "expression"
    expression: Annotated[Text, checked_by(parse_condition, ConditionSyntaxError)] = Field(
        min_length=1,
        max_length=2000,
        description="e.g. `price_change_pct > 0.05 and not muted`; see docs/api.md, 'Jobs'.",
    )
    stage: Stage = "after_run"
