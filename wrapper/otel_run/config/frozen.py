"""``Frozen``: the base of the settings' value classes, in place of frozen dataclasses.

Every Python process in the golden image reads the settings, so their classes must be
cheap to import: ``dataclasses`` pulls ``inspect``, ``ast``, ``dis`` and ``tokenize``
(~12 ms, more than the rest of the settings). A subclass lists its fields in
``__slots__`` and sets them in an explicit ``__init__`` with ``fill(self, locals())``;
``Frozen`` gives it what ``@dataclass(frozen=True)`` gave: equality and hashing by the
fields in order, a ``Name(field=value, ...)`` repr, assignment refused, and ``replace``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see the docstring)
if TYPE_CHECKING:
    from typing import Any, Self


def fill(instance: Frozen, values: dict[str, Any]) -> None:
    """Set every field of ``instance`` from ``values`` (an ``__init__``'s ``locals()``)."""
    for name in instance.__slots__:
        object.__setattr__(instance, name, values[name])


class FrozenError(AttributeError):
    """Raised on assignment to a field (as ``dataclasses.FrozenInstanceError``, an ``AttributeError``)."""


class Frozen:
    """Fields in ``__slots__`` order; ``_uncompared`` names those left out of ``==``,
    ``hash`` and ``repr`` (a dataclass field's ``compare=False, repr=False``)."""

    __slots__: tuple[str, ...] = ()
    _uncompared: tuple[str, ...] = ()

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__ if name not in self._uncompared)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Frozen)
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in self.__slots__ if name not in self._uncompared
        )
        return f"{self.__class__.__qualname__}({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenError(f"cannot delete field {name!r}")

    def __getstate__(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, object]) -> None:
        # pickle and copy restore the fields through here, past the refused assignment.
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied (what ``dataclasses.replace`` did), through ``__init__``."""
        values = {name: getattr(self, name) for name in self.__slots__}
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"{self.__class__.__qualname__} has no field {sorted(unknown)[0]!r}")
        values.update(changes)
        return self.__class__(**values)
