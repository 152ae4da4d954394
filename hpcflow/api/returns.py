"""How many values a task returns: declared, decided per call, or inferred from the code.

``returns`` may be an int, a tuple/list of types (its length), a type, a string naming a
parameter (``"n"``, ``"value_of(n)"``, ``"value_of(obj.attr)"``) or a module global whose
value is the count at call time. Absent, it is inferred from the return annotation or the
function's ``return`` statements (as PyCOMPSs does).
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import typing
from collections.abc import Callable, Mapping
from typing import Any

from hpcflow.errors import UsageError

#: The declared ``returns`` decides the count only when the task is called.
PER_CALL = -1


def count_returns(returns: Any, func: Callable[..., Any], name: str) -> int:
    """The number of futures a call returns, or PER_CALL when a string decides it."""
    if returns is None:
        return infer_returns(func)
    if returns is False:
        return 0
    if isinstance(returns, bool):
        return 1
    if isinstance(returns, int):
        if returns < 0:
            raise UsageError(f"returns={returns} of task {name} must be >= 0")
        return returns
    if isinstance(returns, str):
        text = returns.strip()
        return int(text) if text.isdigit() else PER_CALL
    if isinstance(returns, (tuple, list)):
        return len(returns)
    return 1


def infer_returns(func: Callable[..., Any]) -> int:
    """From the return annotation, else the widest tuple among the ``return`` statements."""
    hinted = _from_annotation(func)
    if hinted is not None:
        return hinted
    tree = _parse(func)
    if tree is None:
        return 0
    widths = [len(node.value.elts) if isinstance(node.value, ast.Tuple) else 1
              for node in _own_returns(tree) if node.value is not None]
    return max(widths, default=0)


def _from_annotation(func: Callable[..., Any]) -> int | None:
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable forward references: fall back to the code
        return None
    if "return" not in hints:
        return None
    hint = hints["return"]
    if hint is None or hint is type(None):
        return 0
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and args and Ellipsis not in args:
        return len(args)
    return 1


def _parse(func: Callable[..., Any]) -> ast.AST | None:
    try:
        source = textwrap.dedent(inspect.getsource(func))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return defs[0] if defs else None


def _own_returns(root: ast.AST) -> list[ast.Return]:
    """The return statements of ``root`` itself, not of functions or classes inside it."""
    found: list[ast.Return] = []
    todo = list(ast.iter_child_nodes(root))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Return):
            found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


def returns_at_call(returns: str, signature: inspect.Signature, args: tuple[Any, ...],
                    kwargs: Mapping[str, Any], func: Callable[..., Any], name: str) -> int:
    """The count named by a string ``returns``, from this call's arguments."""
    text = returns.strip()
    if text.startswith("value_of"):
        text = text[len("value_of"):].strip().removeprefix("(").removesuffix(")").strip()
    head, *attrs = text.split(".")
    try:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
    except TypeError as exc:
        raise UsageError(f"bad call to task {name}: {exc}") from None
    if head in bound.arguments:
        value = bound.arguments[head]
    elif head in getattr(func, "__globals__", {}):
        value = func.__globals__[head]
    else:
        raise UsageError(f"returns={returns!r} of task {name} names no parameter or global")
    for attr in attrs:
        value = getattr(value, attr)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UsageError(f"returns={returns!r} of task {name} is {value!r}, "
                         f"not a number") from None


def future_classes(returns: Any) -> tuple[type | None, ...]:
    """For each return, the user class whose empty instance stands for the future."""
    items = returns if isinstance(returns, (tuple, list)) else (returns,)
    return tuple(_user_class(item) for item in items)


def _user_class(item: Any) -> type | None:
    if isinstance(item, type) and item.__module__ != "builtins":
        return item
    return None
