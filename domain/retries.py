"""Whether a post is a true retry of the first one under its key, and what to say when it is not.

A retry repeats the first body exactly; equal instants written in other offsets are the same
instant. Anything else under the same key is another request that would be lost if it were
answered with the first one's answer, so it is refused (409), naming the fields that differ.
"""

from collections.abc import Mapping
from typing import Any, TypeGuard

from pydantic import BaseModel, TypeAdapter

from domain.errors import AlreadyRecorded

Body = BaseModel | Mapping[str, Any]
_JSON: TypeAdapter[Any] = TypeAdapter(Any)


def differences(first: Body, again: Body, path: str = "") -> tuple[str, ...]:
    """The fields (dotted paths, in the first body's order) whose values differ.

    Nested models and mappings are compared field by field; a field one body lacks counts as
    ``None`` there, so bodies of two kinds (a ``departed`` and a ``position`` report) compare too.
    """
    one, other = _fields(first), _fields(again)
    differing: list[str] = []
    for name in [*one, *(n for n in other if n not in one)]:
        a, b = one.get(name), other.get(name)
        where = f"{path}{name}"
        if _nested(a) and _nested(b):
            differing += differences(a, b, f"{where}.")
        elif a != b:
            differing.append(where)
    return tuple(differing)


def require_same(what: str, first: Body, again: Body, *, personal: bool = False) -> None:
    """Nothing if ``again`` repeats ``first``; else ``AlreadyRecorded`` with the first body.

    ``what`` says which key was taken (``call 'c-1' was already posted``). Where the first body is
    ``personal`` only the names of the differing fields are given, never a value.
    """
    differing = differences(first, again)
    if not differing:
        return
    noun = "differs" if len(differing) == 1 else "differ"
    raise AlreadyRecorded(
        f"{what} with another body ({', '.join(differing)} {noun}); only a retry that repeats "
        "the first body is answered again"
        + ("." if personal else ", and the first body is under 'first'."),
        differing,
        None if personal else _jsonable(first),
    )


def _fields(body: Body) -> dict[str, Any]:
    return dict(body) if isinstance(body, BaseModel) else dict(body.items())


def _nested(value: object) -> TypeGuard[Body]:
    return isinstance(value, BaseModel | Mapping)


def _jsonable(body: Body) -> dict[str, Any]:
    jsonable: dict[str, Any] = _JSON.dump_python(body, mode="json")
    return jsonable
