"""The project's own exception types. Anything else escaping a parser is a bug."""

from __future__ import annotations

__all__ = ["CaptureTlsError", "InputError", "ProtocolError"]


class CaptureTlsError(Exception):
    """Base of every exception capture-tls raises on purpose."""


class ProtocolError(CaptureTlsError):
    """Bytes on the wire that break the protocol's framing or a declared length."""


class InputError(CaptureTlsError):
    """A whole input cannot be used (not a capture, empty, unreadable, header cut)."""
