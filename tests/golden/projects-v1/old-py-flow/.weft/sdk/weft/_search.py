"""Search attributes and memo: what ``weft list --query`` finds an execution
by, and what ``weft describe`` shows with it.

A value's type follows from its Python type: ``str`` is a keyword, ``int``
an int, ``float`` a double, ``bool`` a bool, ``datetime`` a datetime (a
naive one is taken as UTC), a list or tuple of ``str`` a keyword list;
wrap a string in :class:`Text` for a text attribute (matched by words).
A name has one type on a host: the first value recorded decides, and a
value of another type stalls the workflow, naming both.
"""

from __future__ import annotations

import datetime
import math
from typing import Any, Dict, List, Mapping, Optional

from . import _codec

__all__ = ["Text", "search_attribute_list", "memo_list", "from_wit", "memo_from_wit"]


class Text(str):
    """A string indexed as text (``Note = "rush"`` finds a note holding the
    word) rather than as a keyword (matched whole)."""


def _millis(t: datetime.datetime) -> int:
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    delta = t - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _value(runtime: Any, name: str, v: Any) -> Any:
    if isinstance(v, Text):
        return runtime.SearchValue_Text(str(v))
    if isinstance(v, str):
        return runtime.SearchValue_Keyword(v)
    if isinstance(v, bool):
        return runtime.SearchValue_Boolean(v)
    if isinstance(v, int):
        return runtime.SearchValue_Int(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"search attribute {name}: {v} is not a finite number")
        return runtime.SearchValue_Double(v)
    if isinstance(v, datetime.datetime):
        return runtime.SearchValue_Datetime(_millis(v))
    if isinstance(v, datetime.date):
        return runtime.SearchValue_Datetime(
            _millis(datetime.datetime(v.year, v.month, v.day))
        )
    if isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v):
        return runtime.SearchValue_KeywordList([str(x) for x in v])
    raise TypeError(
        f"search attribute {name}: {type(v).__name__} has no search attribute type; "
        "give a str, weft.Text, int, float, bool, datetime or a list of str "
        "(None removes the attribute)"
    )


def search_attribute_list(runtime: Any, attributes: Mapping[str, Any]) -> List[Any]:
    """The WIT list for ``upsert-search-attributes``: None removes a name."""
    out = []
    for name, v in attributes.items():
        value = None if v is None else _value(runtime, name, v)
        out.append(runtime.SearchAttribute(name=str(name), value=value))
    return out


def memo_list(runtime: Any, fields: Mapping[str, Any]) -> List[Any]:
    """The WIT list for ``upsert-memo``: each value as JSON, None removes."""
    return [
        runtime.MemoField(
            name=str(name), value=None if v is None else _codec.encode(v)
        )
        for name, v in fields.items()
    ]


def from_wit(runtime: Any, attributes: List[Any]) -> Dict[str, Any]:
    """``search-attributes()`` as Python values (a text as :class:`Text`, a
    datetime as an aware UTC datetime)."""
    out: Dict[str, Any] = {}
    for a in attributes:
        v = a.value
        if v is None:
            continue
        if isinstance(v, runtime.SearchValue_Text):
            out[a.name] = Text(v.value)
        elif isinstance(v, runtime.SearchValue_Datetime):
            out[a.name] = datetime.datetime(
                1970, 1, 1, tzinfo=datetime.timezone.utc
            ) + datetime.timedelta(milliseconds=v.value)
        elif isinstance(v, runtime.SearchValue_KeywordList):
            out[a.name] = list(v.value)
        else:
            out[a.name] = v.value
    return out


def memo_from_wit(fields: List[Any]) -> Dict[str, Any]:
    """``memo()`` as decoded JSON."""
    return {f.name: _codec.decode(bytes(f.value)) for f in fields if f.value is not None}
