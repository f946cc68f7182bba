"""inject-keys: the pcapng it writes holds the same packets (times exact), a Decryption
Secrets Block with only the capture's own secrets, and tshark decrypts it with no key log
option; editcap's embedded secrets are read by sources (CaptureReader.secrets)."""

from __future__ import annotations

import glob
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from capture_tls.analysis.inject import (
    client_randoms_in_capture,
    inject_keys,
    read_keylog_file,
)
from capture_tls.errors import InputError
from capture_tls.protocols import keylog
from capture_tls.protocols.keylog import KeyLog
from capture_tls.sources import pcapng_writer
from capture_tls.sources.captures import open_capture
from tests.test_tls13_decrypt import SERVER_CHAIN, TLS13_DIR, decrypt_streams, mysql_tls_flows
from tests.test_tls13_decrypt import skip_mysql_packet as skip

SAMPLES = TLS13_DIR.parent
ALL_LOGS = [read_keylog_file(p) for p in sorted(glob.glob(str(TLS13_DIR / "*.keylog")))]
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def frames_and_secrets(path: Path) -> tuple[list[tuple[float, int, bytes, int]],
                                            list[tuple[int, bytes]], list[str]]:
    reader = open_capture(str(path))
    frames = list(reader.frames())
    return frames, reader.secrets, [p.code for p in reader.problems]


def tshark_times(path: Path) -> list[str]:
    proc = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.time_epoch",
                           "-e", "frame.len", "-e", "frame.cap_len"],
                          capture_output=True, check=True, timeout=60)
    return proc.stdout.decode().splitlines()


def test_editcap_embedded_secrets_are_read_by_sources() -> None:
    """editcap --inject-secrets tls,aes128gcm.keylog: the DSB holds the key log file as is."""
    frames, secrets, problems = frames_and_secrets(TLS13_DIR / "editcap-embedded.pcapng")
    assert problems == []
    assert secrets == [(keylog.DSB_TLS_KEY_LOG, (TLS13_DIR / "aes128gcm.keylog").read_bytes())]
    original, _, _ = frames_and_secrets(TLS13_DIR / "aes128gcm.pcap")
    assert [f[2] for f in frames] == [f[2] for f in original]
    # and the secrets decrypt the handshake with no key log file
    log = KeyLog.from_secrets_blocks(secrets)
    (flow,) = mysql_tls_flows(TLS13_DIR / "editcap-embedded.pcapng")
    conn = decrypt_streams(skip(bytes(flow.c2s)), skip(bytes(flow.s2c)), log)
    assert conn.errors == {} and conn.chain("server") == SERVER_CHAIN


def test_client_randoms_in_capture_are_the_key_logs_randoms() -> None:
    for name in ("hrr", "reject-name", "aes128gcm", "client-cert"):
        log = KeyLog.parse((TLS13_DIR / f"{name}.keylog").read_bytes())
        assert client_randoms_in_capture(str(TLS13_DIR / f"{name}.pcap")) == set(
            log.client_randoms), name
    # TLS 1.2 captures: one random per TLS connection (tls12-match has two)
    assert len(client_randoms_in_capture(str(SAMPLES / "tls12-match.pcap"))) == 2
    assert client_randoms_in_capture(str(SAMPLES / "plaintext.pcap")) == set()


def _raw_ip_tcp(seq: int, payload: bytes) -> bytes:
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0, 64, 6, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    tcp = struct.pack(">HHIIBBHHH", 50000, 3306, seq, 1, 5 << 4, 0x18, 65535, 0, 0)
    return ip + tcp + payload


@pytest.mark.parametrize("cut", [3, 9, 20, 42])
def test_a_client_hello_split_across_segments_is_still_found(tmp_path: Path, cut: int) -> None:
    """A real ClientHello (hrr.pcap's first) cut at `cut` bytes into two TCP segments (raw
    IP frames written by PcapngWriter): in the record header, the handshake header, the
    random, its last byte."""
    (flow, _) = mysql_tls_flows(TLS13_DIR / "hrr.pcap")
    tls_bytes = skip(bytes(flow.c2s))
    hello = tls_bytes[: 5 + int.from_bytes(tls_bytes[3:5], "big")]
    path = tmp_path / "split.pcapng"
    with open(path, "wb") as f:
        w = pcapng_writer.PcapngWriter(f)
        iface = w.add_interface(101, 65535)
        for i, (seq, part) in enumerate(((1000, hello[:cut]), (1000 + cut, hello[cut:]))):
            frame = _raw_ip_tcp(seq, part)
            w.write_packet(iface, 1_700_000_000_000_000 + i, frame, len(frame))
    expected = KeyLog.parse((TLS13_DIR / "hrr.keylog").read_bytes()).client_randoms
    assert client_randoms_in_capture(str(path)) <= expected
    assert len(client_randoms_in_capture(str(path))) == 1


@pytest.mark.parametrize("name", ["hrr.pcap", "aes128ccm8.pcap", "reject-name.pcap"])
def test_inject_keeps_packets_and_only_the_capture_s_secrets(tmp_path: Path, name: str) -> None:
    out = tmp_path / "out.pcapng"
    result = inject_keys(str(TLS13_DIR / name), ALL_LOGS, str(out))
    own = KeyLog.parse((TLS13_DIR / name).with_suffix(".keylog").read_bytes())
    assert result.problems == ()
    assert result.client_randoms_in_capture == result.client_randoms_with_secrets == len(own)
    frames, secrets, problems = frames_and_secrets(out)
    original, _, _ = frames_and_secrets(TLS13_DIR / name)
    assert problems == []
    assert frames == original  # time, link type, bytes, original length
    assert result.packets == len(frames)
    (dsb,) = secrets
    assert dsb[0] == 0x544C534B
    embedded = KeyLog.from_secrets_blocks(secrets)
    assert embedded.problems == ()
    assert embedded.client_randoms == own.client_randoms
    for r in own.client_randoms:
        assert embedded.secrets_for(r) == own.secrets_for(r)
    assert result.key_log_lines == dsb[1].count(b"\n")


@needs_tshark
@pytest.mark.parametrize("name", ["hrr.pcap", "client-cert.pcap", "chacha20.pcap"])
def test_tshark_decrypts_the_injected_file_without_a_key_log_option(tmp_path: Path,
                                                                    name: str) -> None:
    out = tmp_path / "out.pcapng"
    inject_keys(str(TLS13_DIR / name), ALL_LOGS, str(out))
    sys.path.insert(0, str(SAMPLES / "lab"))
    try:
        import record_tls13
    finally:
        sys.path.pop(0)
    facts = record_tls13.tshark_facts(out)
    assert facts["tshark_options"] == ["-d", "tcp.port==3307,mysql"]  # no key log given
    with_keylog = record_tls13.tshark_facts(TLS13_DIR / name)
    assert facts["connections"] == with_keylog["connections"]
    assert all(c["server_certificates"] == SERVER_CHAIN for c in facts["connections"])
    assert tshark_times(out) == tshark_times(TLS13_DIR / name)


@needs_tshark
@pytest.mark.parametrize("name", ["nanosecond.pcap", "derived/tls12-match-bigendian.pcap",
                                  "any-sll2.pcap", "multi-interface.pcapng",
                                  "derived/raw-ip.pcap"])
def test_other_captures_convert_exactly(tmp_path: Path, name: str) -> None:
    """Nanosecond and big-endian pcap, Linux cooked v2, raw IP, a two-interface pcapng: tshark
    reads the same times and lengths; no key log line matches (TLS 1.2, no key log): no
    secrets block."""
    out = tmp_path / "out.pcapng"
    result = inject_keys(str(SAMPLES / name), ALL_LOGS, str(out))
    assert result.key_log_lines == 0 and result.problems == ()
    frames, secrets, problems = frames_and_secrets(out)
    original, _, _ = frames_and_secrets(SAMPLES / name)
    assert secrets == [] and problems == []
    assert frames == original
    assert tshark_times(out) == tshark_times(SAMPLES / name)
    if name.endswith(".pcapng"):
        proc = subprocess.run(["tshark", "-r", str(out), "-T", "fields", "-e",
                               "frame.interface_id"], capture_output=True, check=True)
        assert set(proc.stdout.decode().split()) == {"0", "1"}


def test_pcapng_input_keeps_its_blocks_and_existing_secrets(tmp_path: Path) -> None:
    src = TLS13_DIR / "editcap-embedded.pcapng"
    out = tmp_path / "out.pcapng"
    result = inject_keys(str(src), ALL_LOGS, str(out))
    assert result.key_log_lines == 5
    _, secrets, _ = frames_and_secrets(out)
    assert len(secrets) == 2  # ours after the section header, editcap's kept
    assert KeyLog.from_secrets_blocks(secrets[:1]).client_randoms == KeyLog.from_secrets_blocks(
        secrets[1:]).client_randoms
    # the rest of the file is the input's blocks, byte for byte (after the SHB + our DSB)
    data, original = out.read_bytes(), src.read_bytes()
    shb_len = struct.unpack_from("<I", original, 4)[0]
    dsb_len = struct.unpack_from("<I", data, shb_len + 4)[0]
    assert data[shb_len + dsb_len:] == original[shb_len:]
    assert struct.unpack_from("<q", data, 16)[0] == -1


def test_damaged_input_copies_what_is_good(tmp_path: Path) -> None:
    src = SAMPLES / "derived" / "truncated-mid-packet.pcap"
    out = tmp_path / "out.pcapng"
    result = inject_keys(str(src), ALL_LOGS, str(out))
    frames, _, problems = frames_and_secrets(out)
    original, _, original_problems = frames_and_secrets(src)
    assert original_problems == ["TRUNCATED_FILE"] and problems == []
    assert frames == original and result.packets == len(original)
    assert len(result.problems) == 1 and "cut short" in result.problems[0]


def test_not_a_capture_and_same_file_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        inject_keys(str(TLS13_DIR / "hrr.keylog"), ALL_LOGS, str(tmp_path / "x.pcapng"))
    copy = tmp_path / "c.pcapng"
    shutil.copy(TLS13_DIR / "editcap-embedded.pcapng", copy)
    with pytest.raises(InputError):
        pcapng_writer.copy_with_secrets(str(copy), str(copy), [])
    with pytest.raises(InputError):
        read_keylog_file(str(tmp_path / "missing.keylog"))


def test_writer_blocks_are_well_formed(tmp_path: Path) -> None:
    """A pcapng made by PcapngWriter alone: two interfaces, a DSB, EPBs; read back by
    sources and by tshark."""
    path = tmp_path / "w.pcapng"
    with open(path, "wb") as f:
        w = pcapng_writer.PcapngWriter(f)
        w.write_secrets(0x544C534B, b"# nothing\n")
        a = w.add_interface(1, 65535)
        b = w.add_interface(101, 262144, tsresol_exponent=9)
        w.write_packet(a, 1_700_000_000_123_456, b"\x00" * 14, 60)
        w.write_packet(b, 1_700_000_001_000_000_001, b"\x45" + b"\x00" * 18, 19)
        with pytest.raises(ValueError):
            w.write_packet(2, 0, b"", 0)
    frames, secrets, problems = frames_and_secrets(path)
    assert problems == [] and secrets == [(0x544C534B, b"# nothing\n")]
    assert [(f[1], f[2], f[3]) for f in frames] == [(1, b"\x00" * 14, 60),
                                                    (101, b"\x45" + b"\x00" * 18, 19)]
    assert frames[0][0] == pytest.approx(1_700_000_000.123456)
    if shutil.which("tshark"):
        assert tshark_times(path) == ["1700000000.123456000\t60\t14",
                                      "1700000001.000000001\t19\t19"]
