"""Equality for the parsers' hot events that are named tuples instead of frozen dataclasses.

A frozen dataclass of 9 fields costs 1.0 us to make (one object.__setattr__ per field); a named
tuple 0.25 us through its __new__, 0.1 us through tuple.__new__ - a connection makes five of
them (greeting, SSLRequest, both hellos, the certificate list) and three EncryptedRecords.
Named tuples compare equal to any tuple with the same items; these functions restore the
dataclass meaning: equal only to an instance of the same class with equal fields (a plain tuple,
or another event type with the same items, is not equal), and no ordering.
"""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = ["dataclass_equality"]

_C = TypeVar("_C", bound=type)


def same_type_eq(self: tuple[Any, ...], other: object) -> bool:
    # False, not NotImplemented: NotImplemented would let tuple.__eq__ of the other side
    # answer (and call a plain tuple with the same items equal).
    return type(other) is type(self) and tuple.__eq__(self, other)


def same_type_ne(self: tuple[Any, ...], other: object) -> bool:
    return not (type(other) is type(self) and tuple.__eq__(self, other))


def unordered(self: tuple[Any, ...], other: object) -> bool:
    """A dataclass without order=True has no <, <=, >, >=: comparing raises TypeError."""
    raise TypeError(f"'{type(self).__name__}' values are not ordered")


def dataclass_equality(cls: _C) -> _C:
    """Class decorator for a NamedTuple: equality, hash and (no) ordering of a frozen
    dataclass. (Set after the class is made: assignments in a NamedTuple body are fields.)"""
    for name, function in (("__eq__", same_type_eq), ("__ne__", same_type_ne),
                           ("__lt__", unordered), ("__le__", unordered),
                           ("__gt__", unordered), ("__ge__", unordered)):
        setattr(cls, name, function)
    cls.__hash__ = tuple.__hash__  # type: ignore[assignment]
    return cls
