"""Job-spec validation errors as one line per key: names the key, what was expected, what was seen."""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = ["describe", "did_you_mean"]


def did_you_mean(seen: Any, allowed) -> str:
    close = difflib.get_close_matches(str(seen), [str(a) for a in allowed], n=1, cutoff=0.7)
    return f"; did you mean {close[0]!r}?" if close else ""


_did_you_mean = did_you_mean

_UNION_TAG = re.compile(r"^(float|int|str|bool|none|list\[.*\]|dict\[.*\])$")


def describe(err: ValidationError, source: str, root) -> str:
    """One line per key of a pydantic ``err`` of the spec class ``root``, prefixed with ``source``."""
    lines: dict[str, list] = {}  # one line per key: the members of a union ("float | str") merged
    for e in err.errors():
        parts = list(e["loc"])
        if len(parts) > 1 and isinstance(parts[-1], str) and _UNION_TAG.match(parts[-1]) \
                and e["type"] not in ("extra_forbidden", "missing"):
            parts.pop()  # params.tau.high.float -> params.tau.high
        loc = ".".join(str(p) for p in parts)
        msg = e["msg"].removeprefix("Value error, ")
        named = re.match(r"^\[?([A-Za-z_][\w.]*(?:\[\d+\])?[\w.]*)(?:\]|:) (.*)$", msg, re.S)
        if named and e["type"] == "value_error":  # the message names its own key (units: "params.x.low: ...")
            loc, msg = named[1], named[2]
        seen = e.get("input")
        seen_txt = "" if e["type"] in ("missing",) or isinstance(seen, dict) else f" (got {_short(seen)})"
        if ", got " in msg or msg.startswith("got "):  # the message already says what it saw
            seen_txt = ""
        if e["type"] == "extra_forbidden":
            allowed = _allowed_keys(e["loc"][:-1], root)
            msg = (f"unknown key; expected one of {', '.join(allowed)}{_did_you_mean(e['loc'][-1], allowed)}"
                   if allowed else "unknown key (check the spelling; see the README for the allowed keys)")
            seen_txt = f" (got {_short(seen)})"
        elif e["type"] == "missing":
            msg = "required key is missing"
        elif msg.startswith("Input should be "):  # pydantic's wording -> "expected ..., got ..."
            if loc in lines and lines[loc][0].startswith("expected "):
                lines[loc][0] = lines[loc][0].replace(", got ", f" or {msg.removeprefix('Input should be ')}, got ", 1)
                continue
            msg, seen_txt = f"expected {msg.removeprefix('Input should be ')}, got {_short(seen)}", ""
        lines.setdefault(loc, [msg, seen_txt])
    return "\n".join(f"{source}: [{loc}] {m}{t}" if loc else f"{source}: {m}{t}" for loc, (m, t) in lines.items())


def _allowed_keys(loc, root) -> list[str]:
    """Keys allowed at ``loc`` (a pydantic error location), for "unknown key" errors."""
    import typing

    cls: Any = root
    parts = list(loc)
    while True:
        origin, args = typing.get_origin(cls), typing.get_args(cls)
        if origin is dict and args:  # dict[str, Model]: the next part is a user key
            if not parts:
                return []
            parts.pop(0)
            cls = args[1]
            continue
        if origin is not None and args:  # Optional / Union: the first model among the args
            models_ = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            if not models_:
                return []
            cls = models_[0]
            continue
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
            return []
        if not parts:
            return [k for k in cls.model_fields if k != "base_dir"]
        name = parts.pop(0)
        if name not in cls.model_fields:
            return []
        cls = cls.model_fields[name].annotation


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
