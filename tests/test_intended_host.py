"""Intended host from DNS answers (CNAME chains), hosts files and the precedence of sources."""

from __future__ import annotations

import dns.message
import dns.rrset
import pytest

from capture_tls.analysis.intended_host import DnsCache, HostsFile, choose_intended_host
from capture_tls.analysis.options import UsageError, parse_host_rule
from capture_tls.errors import ProtocolError
from capture_tls.protocols.dns import parse_dns_response, parse_dns_tcp_segment


def response(qname: str, answers: list[tuple[str, str, str]], rdtype: str = "A") -> bytes:
    q = dns.message.make_query(qname, rdtype)
    r = dns.message.make_response(q)
    for owner, typ, value in answers:
        r.answer.append(dns.rrset.from_text(owner, 60, "IN", typ, value))
    return r.to_wire()


def test_a_cname_chain_is_followed_to_the_address() -> None:
    wire = response(
        "xxxx.mysql.database.azure.com.",
        [
            ("xxxx.mysql.database.azure.com.", "CNAME",
             "cr1.westeurope1-a.control.database.windows.net."),
            ("cr1.westeurope1-a.control.database.windows.net.", "CNAME",
             "westeurope1-a.control.database.windows.net."),
            ("westeurope1-a.control.database.windows.net.", "A", "10.77.0.10"),
        ],
    )
    [res] = parse_dns_response(wire)
    assert res.question == "xxxx.mysql.database.azure.com"
    assert res.chain == (
        "xxxx.mysql.database.azure.com",
        "cr1.westeurope1-a.control.database.windows.net",
        "westeurope1-a.control.database.windows.net",
    )
    assert res.addresses == ("10.77.0.10",)


def test_a_query_and_a_cname_loop_give_no_resolution() -> None:
    q = dns.message.make_query("a.example.", "A").to_wire()
    assert parse_dns_response(q) == []
    loop = response("a.example.", [("a.example.", "CNAME", "b.example."),
                                   ("b.example.", "CNAME", "a.example.")])
    assert parse_dns_response(loop) == []


def test_records_of_another_class_are_not_addresses() -> None:
    """An A, AAAA or CNAME record of a class other than IN (the fuzzer's find: dnspython
    keeps those as opaque data, without an address) resolves nothing and never raises; the
    class IN records beside them still count."""
    for rdclass, rdtype, value in (("CLASS9", "A", "\\# 4 0a4d000a"),
                                   ("CLASS9", "AAAA", "\\# 16 " + "00" * 16),
                                   ("HS", "CNAME", "\\# 3 016100")):
        q = dns.message.make_query("db.example.", "A")
        r = dns.message.make_response(q)
        r.answer.append(dns.rrset.from_text("db.example.", 60, rdclass, rdtype, value))
        assert parse_dns_response(r.to_wire()) == []
        r.answer.append(dns.rrset.from_text("db.example.", 60, "IN", "A", "10.77.0.10"))
        [res] = parse_dns_response(r.to_wire())
        assert res.addresses == ("10.77.0.10",)


def test_garbage_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        parse_dns_response(b"\x00\x01garbage")


def test_dns_over_tcp_length_prefix() -> None:
    wire = response("db.example.", [("db.example.", "AAAA", "fd77::10")], "AAAA")
    [res] = parse_dns_tcp_segment(len(wire).to_bytes(2, "big") + wire)
    assert res.addresses == ("fd77::10",)


def test_latest_answer_to_that_client_before_the_connection_wins() -> None:
    cache = DnsCache(100)
    for ts, client, name in [
        (1.0, "10.0.0.2", "old.example"),
        (2.0, "10.0.0.2", "new.example"),
        (2.5, "10.0.0.9", "other.example"),
        (9.0, "10.0.0.2", "later.example"),
    ]:
        [res] = parse_dns_response(response(name + ".", [(name + ".", "A", "10.0.0.1")]))
        cache.add(ts, client, res)
    host = cache.lookup("10.0.0.2", "10.0.0.1", before_ts=5.0)
    assert host is not None
    assert host.name == "new.example" and host.source == "dns"
    assert host.candidates == ("old.example", "other.example")
    # another client's answer is used only when this client has none
    other = cache.lookup("10.0.0.7", "10.0.0.1", before_ts=5.0)
    assert other is not None and other.name == "other.example"
    assert cache.lookup("10.0.0.2", "10.0.0.1", before_ts=0.5) is None


def test_the_cache_is_bounded() -> None:
    cache = DnsCache(10)
    for i in range(50):
        name = f"n{i}.example."
        [res] = parse_dns_response(response(name, [(name, "A", "10.0.0.1")]))
        cache.add(float(i), "10.0.0.2", res)
    assert cache.records == 10
    host = cache.lookup("10.0.0.2", "10.0.0.1", 100.0)
    assert host is not None and host.name == "n49.example"


def test_hosts_file_and_precedence() -> None:
    hosts = HostsFile.parse(
        "# comment\n10.0.0.1  db.internal db  # alias\nbad line\n::1 localhost\n"
    )
    h = hosts.lookup("10.0.0.1")
    assert h is not None and h.name == "db.internal" and h.candidates == ("db",)
    cache = DnsCache(10)
    [res] = parse_dns_response(response("dns.example.", [("dns.example.", "A", "10.0.0.1")]))
    cache.add(1.0, "10.0.0.2", res)
    args = ("10.0.0.2", "10.0.0.1", 5.0, cache, hosts)
    chosen = choose_intended_host("opt.example", "sni.example", *args)
    assert chosen is not None and chosen.source == "option"
    chosen = choose_intended_host(None, "dns.example", *args)
    assert chosen is not None and (chosen.source, chosen.cname_chain) == ("sni", ("dns.example",))
    chosen = choose_intended_host(None, None, *args)
    assert chosen is not None and chosen.source == "dns"
    chosen = choose_intended_host(None, None, "10.0.0.2", "10.0.0.1", 0.5, cache, hosts)
    assert chosen is not None and chosen.source == "hosts-file"


@pytest.mark.parametrize(
    ("text", "name", "ip", "port"),
    [
        ("db.example", "db.example", None, None),
        ("10.0.0.1=db.example", "db.example", "10.0.0.1", None),
        ("10.0.0.1:3307=db.example", "db.example", "10.0.0.1", 3307),
        ("[fd77::1]:3306=db6.example", "db6.example", "fd77::1", 3306),
        ("fd77::1=db6.example", "db6.example", "fd77::1", None),
    ],
)
def test_host_rules(text: str, name: str, ip: str | None, port: int | None) -> None:
    rule = parse_host_rule(text)
    assert (rule.name, rule.server_ip, rule.server_port) == (name, ip, port)


@pytest.mark.parametrize("text", ["", "10.0.0.1=", "notanip=db", "10.0.0.1:x=db", "[fd77::1=db"])
def test_bad_host_rules(text: str) -> None:
    with pytest.raises(UsageError):
        parse_host_rule(text)
