"""Payloads: JSON bytes, as every weft SDK writes them.

Encoding matches the Rust SDK's ``serde_json::to_vec``: compact JSON in
UTF-8, no NaN or infinities. An empty payload (a timer's completion, a
missing input) reads as ``null``.

Values convert to and from plain JSON types. Dataclasses, enums, tuples and
sets are written as JSON; objects with a ``to_json()`` method are written as
what it returns. Reading into a type (``result_type=``, or the annotation of
a ``run``/handler parameter) understands dataclasses (nested too), enums,
``list[T]``, ``dict[str, T]``, ``tuple[...]``, ``Optional[T]``, plain types,
and classes with a ``from_json(value)`` classmethod.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import sys
import typing
from typing import Any, Optional

__all__ = ["encode", "decode", "to_json_value", "convert", "millis"]


def _default(o: Any) -> Any:
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
    if isinstance(o, enum.Enum):
        return o.value
    if isinstance(o, (set, frozenset)):
        return sorted(o) if all(isinstance(x, (str, int, float)) for x in o) else list(o)
    to_json = getattr(o, "to_json", None)
    if callable(to_json):
        return to_json()
    if isinstance(o, (datetime.datetime, datetime.date)):
        return o.isoformat()
    if isinstance(o, datetime.timedelta):
        return o.total_seconds()
    if isinstance(o, (bytes, bytearray)):
        return list(o)
    raise TypeError(f"an object of type {type(o).__name__} is not JSON serializable")


def encode(value: Any) -> bytes:
    """``value`` as compact JSON bytes (raises TypeError/ValueError if it is
    not serializable)."""
    return json.dumps(
        value,
        default=_default,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")


def decode(data: Optional[bytes]) -> Any:
    """JSON bytes as plain Python values; empty bytes read as None."""
    if not data:
        return None
    return json.loads(bytes(data).decode("utf-8"))


def to_json_value(value: Any) -> Any:
    """``value`` as plain JSON types (dicts, lists, str, numbers, None)."""
    return json.loads(encode(value))


def _is_union(origin: Any) -> bool:
    if origin is typing.Union:
        return True
    if sys.version_info >= (3, 10):
        import types

        return origin is types.UnionType
    return False


def convert(value: Any, tp: Any) -> Any:
    """Reads a plain JSON value as type ``tp``; raises TypeError/ValueError
    when it does not fit. ``tp`` None or ``Any`` returns the value as is."""
    if tp is None or tp is Any or tp is object or tp is typing.Any:
        return value
    if isinstance(tp, str):
        return value  # an unresolved forward reference: leave the value alone
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if _is_union(origin):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return convert(value, a)
            except (TypeError, ValueError, KeyError) as e:
                errors.append(str(e))
        raise TypeError(f"{value!r} fits none of {tp}: {'; '.join(errors)}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ValueError(f"{value!r} is not one of {args}")
    if origin in (list, typing.List, typing.Sequence, set, frozenset):
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {_what(value)}")
        item = args[0] if args else Any
        items = [convert(v, item) for v in value]
        return origin(items) if origin in (set, frozenset) else items
    if origin is tuple:
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {_what(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(v, args[0]) for v in value)
        if args and len(args) != len(value):
            raise ValueError(f"expected {len(args)} items, got {len(value)}")
        return tuple(convert(v, a) for v, a in zip(value, args or [Any] * len(value)))
    if origin in (dict, typing.Dict, typing.Mapping):
        if not isinstance(value, dict):
            raise TypeError(f"expected an object, got {_what(value)}")
        vt = args[1] if len(args) == 2 else Any
        return {k: convert(v, vt) for k, v in value.items()}
    if origin is not None:
        return value
    if not isinstance(tp, type):
        return value
    from_json = getattr(tp, "from_json", None)
    if callable(from_json):
        return from_json(value)
    if dataclasses.is_dataclass(tp):
        return _dataclass(value, tp)
    if issubclass(tp, enum.Enum):
        return tp(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise TypeError(f"expected a bool, got {_what(value)}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise TypeError(f"expected an integer, got {_what(value)}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise TypeError(f"expected a number, got {_what(value)}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise TypeError(f"expected a string, got {_what(value)}")
    if tp in (list, dict):
        if isinstance(value, tp):
            return value
        raise TypeError(f"expected {'a list' if tp is list else 'an object'}, got {_what(value)}")
    if tp is type(None):
        if value is None:
            return None
        raise TypeError(f"expected null, got {_what(value)}")
    if isinstance(value, tp):
        return value
    if isinstance(value, dict):
        return tp(**value)
    return tp(value)


def _dataclass(value: Any, tp: type) -> Any:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object for {tp.__name__}, got {_what(value)}")
    try:
        hints = typing.get_type_hints(tp)
    except Exception:
        hints = {}
    kwargs = {}
    for f in dataclasses.fields(tp):
        if not f.init:
            continue
        if f.name in value:
            try:
                kwargs[f.name] = convert(value[f.name], hints.get(f.name, Any))
            except (TypeError, ValueError) as e:
                raise TypeError(f"{tp.__name__}.{f.name}: {e}") from None
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise TypeError(f"{tp.__name__}: missing field {f.name!r}")
    return tp(**kwargs)


def _what(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a bool"}.get(
        type(value), type(value).__name__
    )


def millis(d: Any) -> int:
    """A duration in ms: a number of seconds or a ``timedelta``."""
    if isinstance(d, datetime.timedelta):
        seconds = d.total_seconds()
    elif isinstance(d, (int, float)) and not isinstance(d, bool):
        seconds = d
    else:
        raise TypeError(f"a duration is seconds or a timedelta, not {type(d).__name__}")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return int(round(seconds * 1000))
