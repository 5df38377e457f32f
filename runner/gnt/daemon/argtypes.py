"""Strict checking of socket request arguments against a handler method's annotations.

JSON gives booleans, numbers, strings, lists, objects and null; a method declared
``drained: bool`` gets a JSON boolean or an error naming the argument and the value: the
string ``"no"`` is never taken as true, a number is never a string.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

from gnt.core.errors import ECODE_INVAL, OpPrereqError


def matches(value: Any, hint: Any) -> bool:
    """True if the JSON ``value`` is of the annotated type ``hint``."""
    if hint is Any or hint is inspect.Parameter.empty:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint is list or origin is list:
        if not isinstance(value, list):
            return False
        (item,) = typing.get_args(hint) or (Any,)
        return all(matches(element, item) for element in value)
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            return False
        key, item = typing.get_args(hint) or (Any, Any)
        return all(matches(k, key) and matches(v, item) for k, v in value.items())
    raise TypeError(f"unsupported annotation {hint!r}")


def _describe(hint: Any) -> str:
    text = getattr(hint, "__name__", None) if typing.get_origin(hint) is None else None
    return text or str(hint).replace("typing.", "")


def check_call(method: str, func: Callable[..., Any], args: dict[str, Any]) -> None:
    """Raise :class:`OpPrereqError` unless ``args`` fit ``func``'s parameters exactly."""
    signature = inspect.signature(func)
    hints = typing.get_type_hints(func)
    for name in args:
        if name not in signature.parameters:
            raise OpPrereqError(f"Method '{method}': unknown argument '{name}' (valid:"
                                f" {', '.join(signature.parameters) or 'none'})", ECODE_INVAL)
    for name, param in signature.parameters.items():
        if name not in args:
            if param.default is inspect.Parameter.empty:
                raise OpPrereqError(f"Method '{method}': required argument '{name}' is missing",
                                    ECODE_INVAL)
            continue
        hint = hints.get(name, Any)
        if not matches(args[name], hint):
            raise OpPrereqError(f"Method '{method}': argument '{name}' has invalid value"
                                f" {args[name]!r} (expected {_describe(hint)})", ECODE_INVAL)
