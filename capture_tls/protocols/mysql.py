"""MySQL client/server protocol, connection phase only. INTERFACE STUB: to be implemented.

Theory of operation: (to be written with the implementation; MySQL "Client/Server Protocol",
"Connection Phase": Protocol::Packet, Protocol::HandshakeV10, Protocol::SSLRequest,
Protocol::HandshakeResponse41, ERR_Packet.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from capture_tls.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "CLIENT_SSL",
    "NEED_DATA",
    "ErrPacket",
    "HandshakeResponse41",
    "MysqlPacket",
    "MysqlPacketReader",
    "NeedData",
    "ServerGreeting",
    "SslRequest",
    "parse_client_first_packet",
    "parse_err_packet",
    "parse_server_greeting",
    "starts_like_mysql_greeting",
]

CLIENT_SSL: Final = 0x0800


class NeedData:
    """Sentinel type: the reader needs more bytes before it can return an event."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData()


@dataclass(frozen=True, slots=True)
class MysqlPacket:
    sequence_id: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class ServerGreeting:
    protocol_version: int  # 10
    server_version: str
    connection_id: int
    capabilities: int  # lower and upper 16 bits joined
    character_set: int | None
    status_flags: int | None
    auth_plugin_name: str | None
    mariadb_extended_capabilities: int | None  # MariaDB puts them in the filler when CLIENT_MYSQL is unset

    @property
    def supports_ssl(self) -> bool:
        return bool(self.capabilities & CLIENT_SSL)


@dataclass(frozen=True, slots=True)
class SslRequest:
    capabilities: int
    max_packet_size: int
    character_set: int
    mariadb_extended_capabilities: int | None


@dataclass(frozen=True, slots=True)
class HandshakeResponse41:
    capabilities: int
    max_packet_size: int
    character_set: int
    username: str
    database: str | None
    auth_plugin_name: str | None
    mariadb_extended_capabilities: int | None


@dataclass(frozen=True, slots=True)
class ErrPacket:
    code: int
    sql_state: str | None
    message: str


class MysqlPacketReader:
    """Frames one direction's bytes into MySQL packets (sans-I/O).

    `receive_data(data)` appends bytes; `next_event()` returns a `MysqlPacket` or `NEED_DATA`;
    raises `ProtocolError` when a packet declares more than `limits.max_mysql_packet_bytes`.
    `unconsumed()` returns (and forgets) bytes received but not yet framed: the driver hands
    them to the TLS parser after an SSLRequest.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        raise NotImplementedError

    def receive_data(self, data: bytes) -> None:
        raise NotImplementedError

    def next_event(self) -> MysqlPacket | NeedData:
        raise NotImplementedError

    def unconsumed(self) -> bytes:
        raise NotImplementedError


def starts_like_mysql_greeting(data: bytes) -> bool:
    """Cheap sniffer: do these first bytes of a server->client stream look like a v10 greeting?"""
    raise NotImplementedError


def parse_server_greeting(payload: bytes) -> ServerGreeting:
    """Parse the payload of the server's first packet; raises ProtocolError."""
    raise NotImplementedError


def parse_client_first_packet(payload: bytes) -> SslRequest | HandshakeResponse41:
    """The client's first packet: a 32-byte SSLRequest or a HandshakeResponse41."""
    raise NotImplementedError


def parse_err_packet(payload: bytes) -> ErrPacket:
    """An ERR_Packet (payload starts with 0xff); raises ProtocolError."""
    raise NotImplementedError
