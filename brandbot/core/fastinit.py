"""A quicker ``__init__`` for frozen slots dataclasses on the hot path.

A frozen dataclass sets each field with ``object.__setattr__(self, name, value)``: a
global lookup, an attribute lookup and a generic call per field. Records built for every
event (the follower's new counts, the history row, the outbox row) have up to 19 fields,
and building them was 7% of the bot's time in ``brandbot bench``. The slot descriptors
the class already has set a field directly; the ``__init__`` made here calls them, which
builds a 19-field record in 1.35 µs instead of 2.16 µs (measured, CPython 3.11). The
class stays a frozen dataclass: the same fields, defaults, equality, hashing and
``dataclasses.replace``; only the body of ``__init__`` differs.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


class FastInitError(TypeError):
    """The class is not one whose ``__init__`` can be replaced safely."""


def fast_init(cls: type[T]) -> type[T]:
    """Give a frozen ``slots=True`` dataclass an ``__init__`` that sets its slots directly.

    Put it above ``@dataclass(frozen=True, slots=True)``. Classes with ``InitVar``s,
    fields excluded from ``__init__`` or ``__post_init__`` are refused: their ``__init__``
    does more than set fields, and a copy of that logic here would drift from the original.
    """
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__:
        raise FastInitError(f"{cls.__qualname__}: fast_init needs a dataclass with slots=True")
    if not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise FastInitError(f"{cls.__qualname__}: fast_init is for frozen dataclasses")
    if hasattr(cls, "__post_init__"):
        raise FastInitError(f"{cls.__qualname__}: a __post_init__ must keep the generated __init__")
    fields = dataclasses.fields(cls)
    if any(not f.init for f in fields) or len(fields) != len(cls.__dataclass_fields__):
        raise FastInitError(f"{cls.__qualname__}: fields outside __init__ (or InitVars) are not supported")
    namespace: dict[str, Any] = {"_MISSING": dataclasses.MISSING}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for f in fields:
        name = f.name
        namespace[f"_set_{name}"] = getattr(cls, name).__set__
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{name}"] = f.default
            parameter = f"{name}=_default_{name}"
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{name}"] = f.default_factory
            parameter = f"{name}=_MISSING"
            body.append(f"    if {name} is _MISSING: {name} = _factory_{name}()")
        else:
            parameter = name
        (keyword if f.kw_only else positional).append(parameter)
        body.append(f"    _set_{name}(self, {name})")
    parameters = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    source = f"def __init__({parameters}) -> None:\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


__all__ = ["FastInitError", "fast_init"]
