"""Derived parameters: model parameters computed from the free ones, e.g. ``V_th = "V_T + 5 * delta_T"``.

The exponential models need their spike cut-off a few slope factors above ``V_T`` (Brette &
Gerstner 2005 use ``V_T + 5 delta_T``): much higher, the exponential term overflows within one
step. When ``V_T`` and ``delta_T`` are fitted the cut-off must follow them, so a job spec may
give ``[model.derived]`` expressions over the free and fixed parameters, in the simulator's
unit system. Only numbers, parameter names, ``+ - * /`` and parentheses are allowed: nothing
from a job file is executed.
"""

from __future__ import annotations

import ast
import operator

import numpy as np

__all__ = ["Derived", "parse_expression"]

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def parse_expression(text: str, names: set[str], *, key: str) -> ast.AST:
    """Parse ``text``; error names ``key`` when it uses anything but the allowed names and ops."""
    try:
        tree = ast.parse(str(text), mode="eval").body
    except SyntaxError:
        raise ValueError(f"[{key}] not an arithmetic expression: {text!r}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise ValueError(f"[{key}] unknown parameter {node.id!r} in {text!r}; "
                                 f"expected free or fixed parameters {sorted(names)}")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _OPS:
                raise ValueError(f"[{key}] only + - * / are allowed, got {text!r}")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise ValueError(f"[{key}] only + - * / are allowed, got {text!r}")
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float)) or isinstance(node.value, bool):
                raise ValueError(f"[{key}] only numbers and parameter names are allowed, got {text!r}")
        elif not isinstance(node, (ast.operator, ast.unaryop, ast.expr_context)):
            raise ValueError(f"[{key}] only numbers, parameter names and + - * / are allowed, got {text!r}")
    return tree


def _eval(node: ast.AST, env: dict):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env)
        return -v if isinstance(node.op, ast.USub) else v
    return _OPS[type(node.op)](_eval(node.left, env), _eval(node.right, env))


class Derived:
    """Compiled ``name -> expression`` over free (arrays [B]) and fixed (floats) parameters."""

    def __init__(self, exprs: dict[str, str], free: tuple[str, ...], fixed: dict[str, float]):
        names = set(free) | set(fixed)
        self.exprs = dict(exprs)
        self._trees = {k: parse_expression(v, names, key=f"model.derived.{k}") for k, v in exprs.items()}
        self.free, self.fixed = tuple(free), dict(fixed)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._trees)

    def __call__(self, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        env = {**self.fixed, **columns}
        n = len(next(iter(columns.values()))) if columns else 1
        return {k: np.broadcast_to(np.asarray(_eval(t, env), np.float32), (n,)).copy()
                for k, t in self._trees.items()}
