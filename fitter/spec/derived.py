"""Derived parameters: model parameters computed from the free ones, e.g. ``V_th = "V_T + 5 * delta_T"``.

The exponential models need their spike cut-off a few slope factors above ``V_T`` (Brette &
Gerstner 2005 use ``V_T + 5 delta_T``): much higher, the exponential term overflows within one
step. When ``V_T`` and ``delta_T`` are fitted the cut-off must follow them, so a job spec may
give ``[model.derived]`` expressions over the free and fixed parameters, in the simulator's
unit system. Only numbers, parameter names, ``+ - * /`` and parentheses are allowed: nothing
from a job file is executed.

Limits, checked when the job spec is parsed: at most :data:`MAX_CHARS` characters,
:data:`MAX_TOKENS` tokens (numbers, names, operators, parentheses) and :data:`MAX_DEPTH`
nested parentheses per expression. :func:`check_values` then evaluates every expression once
on points of the search box (:func:`probe_points`: the centre, and the corners: all of them
for up to :data:`ALL_CORNERS_UP_TO` free parameters, else the all-low and all-high corners
and each parameter alone at its low and high bound with the others at the centre); a value
that is not finite in float32 (the simulator's precision) or a division by zero there is an
error naming ``model.derived.<name>``. Points between those are not checked: a candidate
whose derived value is not finite fails (diverged) instead of stopping the fit.
"""

from __future__ import annotations

import ast
import itertools
import math
import operator
import re

import numpy as np

__all__ = ["Derived", "parse_expression", "probe_points", "check_values",
           "MAX_CHARS", "MAX_TOKENS", "MAX_DEPTH", "ALL_CORNERS_UP_TO"]

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
#: size limits of one expression
MAX_CHARS, MAX_TOKENS, MAX_DEPTH = 1000, 200, 32
#: up to this many free parameters every corner of the search box is probed (2**6 = 64 points)
ALL_CORNERS_UP_TO = 6
_TOKEN = re.compile(r"[A-Za-z_]\w*|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?|\S")
_F32_MAX = float(np.finfo(np.float32).max)


def _check_size(text: str, key: str) -> None:
    short = text if len(text) <= 60 else text[:57] + "..."
    if len(text) > MAX_CHARS:
        raise ValueError(f"[{key}] expected an expression of at most {MAX_CHARS} characters, got "
                         f"{len(text)} ({short!r}); simplify it or fix the value as [model.fixed]")
    n = len(_TOKEN.findall(text))
    if n > MAX_TOKENS:
        raise ValueError(f"[{key}] expected an expression of at most {MAX_TOKENS} tokens, got {n} "
                         f"({short!r}); simplify it or fix the value as [model.fixed]")
    depth = deepest = 0
    for ch in text:
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(ch, 0)
        deepest = max(deepest, depth)
    if deepest > MAX_DEPTH:
        raise ValueError(f"[{key}] expected at most {MAX_DEPTH} nested parentheses, got {deepest} "
                         f"({short!r}); simplify the expression")


def parse_expression(text: str, names: set[str], *, key: str) -> ast.AST:
    """Parse ``text``; error names ``key`` when it uses anything but the allowed names and ops,
    or is larger than the limits (see the module docstring)."""
    text = str(text)
    _check_size(text, key)
    try:
        tree = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):  # ValueError: NUL bytes
        raise ValueError(f"[{key}] not an arithmetic expression: {text!r}; expected numbers, parameter "
                         "names, + - * / and parentheses") from None
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
            try:
                node.value = float(node.value)
            except OverflowError:
                raise ValueError(f"[{key}] expected numbers below 1e308, got a {len(str(node.value))}-digit "
                                 f"integer in {text[:60]!r}") from None
        elif not isinstance(node, (ast.operator, ast.unaryop, ast.expr_context)):
            raise ValueError(f"[{key}] only numbers, parameter names and + - * / are allowed, got {text!r}")
    return tree


def _eval(node: ast.AST, env: dict, notes: list | None = None):
    """Evaluate; a division by zero gives inf or nan, never an exception (noted in ``notes``)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env, notes)
        return -v if isinstance(node.op, ast.USub) else v
    left, right = _eval(node.left, env, notes), _eval(node.right, env, notes)
    if isinstance(node.op, ast.Div):
        if notes is not None:
            notes.append(np.asarray(right == 0))
        return np.true_divide(left, right)  # Python floats too: inf, not ZeroDivisionError
    return _OPS[type(node.op)](left, right)


def probe_points(bounds: dict[str, tuple[float, float, bool]]) -> tuple[dict[str, np.ndarray], list[str]]:
    """Points of the search box where :func:`check_values` evaluates the expressions.

    ``bounds``: name -> (low, high, log). Returns the columns (name -> values [P]) and a label
    per point ("centre", "corner", "all low", "V_T high", ...). The centre of a log-scaled
    parameter is the geometric mean of its bounds.
    """
    names = list(bounds)
    centre = {n: math.sqrt(lo * hi) if log and lo > 0 else (lo + hi) / 2 for n, (lo, hi, log) in bounds.items()}
    rows, labels = [dict(centre)], ["centre"]
    if len(names) <= ALL_CORNERS_UP_TO:
        for pick in itertools.product((0, 1), repeat=len(names)):
            rows.append({n: bounds[n][k] for n, k in zip(names, pick)})
            labels.append("corner " + ", ".join(f"{n} {('low', 'high')[k]}" for n, k in zip(names, pick)))
    else:
        for k, side in ((0, "low"), (1, "high")):
            rows.append({n: bounds[n][k] for n in names})
            labels.append(f"all {side}")
        for n in names:
            for k, side in ((0, "low"), (1, "high")):
                rows.append({**centre, n: bounds[n][k]})
                labels.append(f"{n} {side}, others at the centre")
    return {n: np.array([r[n] for r in rows], np.float64) for n in names}, labels


def check_values(exprs: dict[str, str], bounds: dict[str, tuple[float, float, bool]],
                 fixed: dict[str, float]) -> None:
    """Evaluate each expression on :func:`probe_points`; an error names ``model.derived.<name>``
    when a value is not finite in float32 or divides by zero."""
    d = Derived(exprs, tuple(bounds), fixed)
    columns, labels = probe_points(bounds)
    env = {**d.fixed, **columns}
    for name, tree in d._trees.items():
        notes: list = []
        with np.errstate(all="ignore"):
            value = np.broadcast_to(np.asarray(_eval(tree, env, notes), np.float64), (len(labels),))
        zero = np.zeros(len(labels), bool)
        for n in notes:
            zero |= np.broadcast_to(n, zero.shape)
        bad = zero | ~np.isfinite(value) | (np.abs(value) > _F32_MAX)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            point = ", ".join(f"{k}={columns[k][i]:.6g}" for k in columns)
            what = "a division by zero" if zero[i] else f"{value[i]:.6g}"
            raise ValueError(
                f"[model.derived.{name}] expected a finite value (|x| < 3.4e38, float32) on the search bounds, "
                f"got {what} for {d.exprs[name]!r} at the {labels[i]} point ({point}); change the "
                "expression or the bounds of [params]")


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
        """Values [B] (float32); a division by zero gives inf/nan (the candidate then fails)."""
        env = {**self.fixed, **columns}
        n = len(next(iter(columns.values()))) if columns else 1
        with np.errstate(all="ignore"):
            return {k: np.broadcast_to(np.asarray(_eval(t, env), np.float32), (n,)).copy()
                    for k, t in self._trees.items()}
