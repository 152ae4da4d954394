"""Constraint values computed per call: ``"{n}"``, ``"{{n}}"`` (PyCOMPSs's form) or an
arithmetic expression over task parameters such as ``"{n} * 2"`` or ``"max(1, {n} // 4)"``.

Pure and safe: the expression is parsed with :mod:`ast` and only numbers, the parameters
named in braces, ``+ - * / // % **``, parentheses and ``min``/``max``/``abs``/``int``/
``round``/``len`` are evaluated; anything else is a one-line UsageError.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Mapping
from typing import Any

from hpcflow.errors import UsageError

_NAME = re.compile(r"\{\{?\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}?\}")
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow}
_FUNCTIONS = {"min": min, "max": max, "abs": abs, "int": int, "round": round, "len": len}


def parameters_in(text: str) -> list[str]:
    """The parameter names a constraint value refers to (empty: a plain value)."""
    return _NAME.findall(text) if isinstance(text, str) else []


def evaluate(text: str, values: Mapping[str, Any], where: str) -> Any:
    """The value of ``text`` for one call, its parameters taken from ``values``."""
    source = _NAME.sub(lambda m: f"__p_{m.group(1)}", text).strip()
    try:
        tree = ast.parse(source, mode="eval")
        return _eval(tree.body, values)
    except Exception as exc:  # a bad expression or argument: one line naming it
        raise UsageError(f"cannot compute {where} = {text!r}: {exc}") from None


def _eval(node: ast.AST, values: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
        return node.value
    if isinstance(node, ast.Name) and node.id.startswith("__p_"):
        return values[node.id[4:]]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_eval(node.left, values), _eval(node.right, values))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval(node.operand, values)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id in _FUNCTIONS and not node.keywords:
        return _FUNCTIONS[node.func.id](*[_eval(a, values) for a in node.args])
    raise ValueError(f"only numbers, {{parameters}}, arithmetic and "
                     f"{'/'.join(_FUNCTIONS)} are allowed, not {ast.unparse(node)!r}")
