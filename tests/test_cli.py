"""The command line, driven through click's CliRunner (and once as a real process)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from capture_tls.cli import cli
from capture_tls.reporting.json_report import load_schema
from tests.samples import CERTS_DIR, SAMPLES_DIR

SCHEMA = load_schema()


def run(*args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(cli, list(args), obj={"argv": list(args)})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def run_json(*args: str) -> tuple[int, dict]:
    code, out, _ = run(*args, "--format", "json")
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    assert not [w for w in doc["warnings"] if w["code"] == "INTERNAL_ERROR"]
    return code, doc


def sample(name: str) -> str:
    return str(SAMPLES_DIR / name)


def test_text_report_of_a_matching_tls12_capture() -> None:
    code, out, err = run("analyze", sample("tls12-match.pcap"), "--width", "100")
    assert code == 0, err
    assert "TLS 1.2" in out
    assert "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" in out
    assert "db.lab.test" in out
    assert "\x1b" not in out  # not a terminal: no colour


def test_json_report_follows_the_contract() -> None:
    code, doc = run_json("analyze", sample("tls12-match.pcap"))
    assert code == 0
    assert doc["schema"] == "capture-tls/report/v1"
    assert doc["command"][:2] == ["capture-tls", "analyze"]
    [inp] = doc["inputs"]
    assert inp["format"] == "pcap" and inp["link_types"] == ["EN10MB"]
    assert inp["size"] == os.path.getsize(sample("tls12-match.pcap"))
    with open(sample("tls12-match.pcap"), "rb") as f:
        assert inp["sha256"] == hashlib.sha256(f.read()).hexdigest()
    assert doc["summary"]["connections"] == len(doc["connections"]) == 2
    ids = [c["id"] for c in doc["connections"]]
    assert len(set(ids)) == 2 and all(i.startswith("0:") for i in ids)
    times = [c["first_seen"] for c in doc["connections"]]
    assert times == sorted(times)


def test_the_sni_is_the_intended_host_and_the_name_matches() -> None:
    _code, doc = run_json("analyze", sample("tls12-match.pcap"))
    with_sni = [c for c in doc["connections"] if c["tls"]["sni"]]
    assert with_sni
    for c in with_sni:
        assert c["intended_host"]["name"] == "db.lab.test"
        assert c["intended_host"]["source"] == "sni"
        assert "HOSTNAME_MISMATCH" not in {f["code"] for f in c["findings"]}


def test_host_option_forms() -> None:
    server = "10.77.1.20"
    for value, applies in [
        ("nothere.example", True),
        (f"{server}=nothere.example", True),
        (f"{server}:3306=nothere.example", True),
        (f"{server}:3307=nothere.example", False),
        ("10.9.9.9=nothere.example", False),
    ]:
        code, doc = run_json("analyze", sample("tls12-match.pcap"), "--host", value)
        for c in doc["connections"]:
            host = c["intended_host"]
            codes = {f["code"] for f in c["findings"]}
            if applies:
                assert host == {"name": "nothere.example", "source": "option",
                                "cname_chain": [], "candidates": []}
                assert "HOSTNAME_MISMATCH" in codes
                assert c["verdicts"]["verify_identity"] == "fail"
            else:
                assert host is None or host["source"] != "option"
        assert code == (1 if applies else 0)


def test_ca_option_gives_verify_ca_and_identity_pass() -> None:
    code, doc = run_json("analyze", sample("tls12-match.pcap"), "--ca",
                         str(CERTS_DIR / "ca-root.pem"), "--host", "db.lab.test")
    assert code == 0
    for c in doc["connections"]:
        assert c["verdicts"]["verify_ca"] == "pass"
        assert c["verdicts"]["verify_identity"] == "pass"


def test_wrong_ca_fails_verify_ca() -> None:
    code, doc = run_json("analyze", sample("tls12-match.pcap"), "--ca",
                         str(CERTS_DIR / "other-ca-root.pem"))
    assert code == 1
    for c in doc["connections"]:
        assert c["verdicts"]["verify_ca"] == "fail"
        assert c["verdicts"]["verify_identity"] == "fail"
        assert "UNTRUSTED_ROOT" in {f["code"] for f in c["findings"]}


def test_jsonl_streams_connections_then_a_summary() -> None:
    code, out, _ = run("analyze", sample("tls12-mismatch.pcap"), "--format", "jsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    conn_schema = {"$defs": SCHEMA["$defs"], "$ref": "#/$defs/connection"}
    for line in lines[:-1]:
        jsonschema.validate(line, conn_schema)
    trailer = lines[-1]
    assert set(trailer) >= {"summary", "warnings", "inputs"}
    assert trailer["summary"]["connections"] == len(lines) - 1 == 3
    assert code == 1  # the mismatch is an error finding


@pytest.mark.parametrize(
    ("make", "cause"),
    [
        (lambda d: d / "missing.pcap", "No such file"),
        (lambda d: d, "directory"),
        (lambda d: _write(d / "empty.pcap", b""), "empty"),
        (lambda d: _write(d / "notes.txt", b"hello, this is text\n" * 10), "not a capture"),
        (lambda d: _write(d / "cut.pcap", (SAMPLES_DIR / "tls12-match.pcap").read_bytes()[:10]),
         "header"),
    ],
)
def test_an_unusable_input_is_one_line_and_exit_3(tmp_path: Path, make, cause: str) -> None:
    bad = make(tmp_path)
    code, out, err = run("analyze", str(bad), sample("tls12-match.pcap"), "--format", "json")
    assert code == 3
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0]
    assert cause.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in err
    doc = json.loads(out)  # the other file is still analyzed and reported
    jsonschema.validate(doc, SCHEMA)
    assert len(doc["inputs"]) == 2 and doc["inputs"][0]["format"] is None
    assert doc["inputs"][0]["error"] and doc["inputs"][1]["error"] is None
    assert doc["summary"]["connections"] == 2


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_capture_cut_mid_packet_is_still_analyzed() -> None:
    code, doc = run_json("analyze", sample("derived/truncated-mid-packet.pcap"))
    assert code in (0, 1)  # not an input error
    assert [w["code"] for w in doc["warnings"]] == ["TRUNCATED_FILE"]
    assert doc["inputs"][0]["packets"] > 0


def test_usage_errors_exit_2() -> None:
    assert run("analyze")[0] == 2
    assert run("analyze", sample("tls12-match.pcap"), "--host", "notanip=db")[0] == 2
    assert run("analyze", sample("tls12-match.pcap"), "--port", "0")[0] == 2
    assert run("frobnicate")[0] == 2


def test_output_file(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    code, stdout, _ = run("analyze", sample("tls12-match.pcap"), "--format", "json", "-o",
                          str(out))
    assert code == 0 and stdout == ""
    jsonschema.validate(json.loads(out.read_text()), SCHEMA)


def test_python_dash_m_runs_as_a_real_process() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "capture_tls", "analyze", sample("plaintext.pcap"), "--format",
         "json"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
    )
    assert r.returncode == 1, r.stderr  # NO_TLS is an error finding
    doc = json.loads(r.stdout)
    assert doc["command"] == ["capture-tls", "analyze", sample("plaintext.pcap"), "--format",
                              "json"]
    assert {c["mysql"]["username"] for c in doc["connections"]} == {"plain", "tlsonly"}


def test_jobs_spread_files_over_processes_with_the_same_report() -> None:
    files = [sample("tls12-match.pcap"), sample("plaintext.pcap"), sample("tls13.pcap")]
    _, one = run_json("analyze", *files, "--jobs", "1")
    _, two = run_json("analyze", *files, "--jobs", "2")
    for doc in (one, two):
        doc.pop("command")
    assert one == two
    assert sorted(c["id"][0] for c in one["connections"]) == ["0", "0", "1", "1", "1", "2", "2"]
    times = [c["first_seen"] for c in one["connections"]]
    assert times == sorted(times)


def test_ca_system_is_the_system_bundle(tmp_path: Path) -> None:
    # the lab's CA is not in the system bundle: the chain is untrusted there
    code, doc = run_json("analyze", sample("tls12-match.pcap"), "--ca", "system")
    assert all(c["verdicts"]["verify_ca"] == "fail" for c in doc["connections"])
    assert code == 1
    assert run("analyze", sample("tls12-match.pcap"), "--ca", str(tmp_path / "nope.pem"))[0] == 2


def test_expires_soon_is_configurable() -> None:
    # the lab's leaf is valid for a year after the recording
    _, doc = run_json("analyze", sample("tls12-match.pcap"))
    assert not any(f["code"] == "EXPIRES_SOON" for c in doc["connections"]
                   for f in c["findings"])
    _, doc = run_json("analyze", sample("tls12-match.pcap"), "--expires-soon-days", "400")
    assert all(any(f["code"] == "EXPIRES_SOON" for f in c["findings"])
               for c in doc["connections"])


def _write_syscalls() -> int:
    """This process's write(2) calls so far (Linux: /proc/self/io)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("syscw:"):
            return int(line.split()[1])
    raise AssertionError("no syscw in /proc/self/io")


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_reports_are_written_in_large_pieces(tmp_path: Path, fmt: str) -> None:
    """JSON and JSON Lines reach the output file, and --format json its temporary report
    file, in writes of about 1 MiB, not one per connection (5-7 kB each): the same bytes as on
    standard output."""
    from bench.gen_capture import generate_capture

    capture = tmp_path / "gen.pcap"
    generate_capture(capture, 300, 6_000, 4, "pcap", seed=3)  # type: ignore[arg-type]
    out = tmp_path / f"report.{fmt}"
    before = _write_syscalls()
    code, stdout, _ = run("analyze", str(capture), "--format", fmt, "--jobs", "1", "-o",
                          str(out))
    writes = _write_syscalls() - before
    assert code in (0, 1) and stdout == ""
    data = out.read_bytes()
    assert len(data) > 300 * 4000  # 300 connections of 4-7 kB
    # one per MiB, one per quarter second (JSON Lines reach a reader that soon), a few more
    assert writes < 40, writes
    _code, expected, _ = run("analyze", str(capture), "--format", fmt, "--jobs", "1")

    def docs(text: str) -> list[dict]:  # without the command line, which differs
        found = [json.loads(line) for line in text.splitlines()] if fmt == "jsonl" else [
            json.loads(text)]
        for doc in found:
            doc.pop("command", None)
        return found

    assert docs(data.decode("utf-8")) == docs(expected)
    assert len(docs(expected)) == (301 if fmt == "jsonl" else 1)


def test_coalesced_writes_keep_their_order() -> None:
    """The JSON writer's coalescing: nothing reaches the stream below 1 MiB until a flush,
    then everything in order; a piece that fills the MiB goes out with what was pending."""
    import io

    from capture_tls.cli import _Coalesced

    target = io.BytesIO()
    raw = _Coalesced(target)
    raw.write(b"a" * 10)
    raw.write(b"b" * 20)
    assert target.getvalue() == b""
    raw.flush()
    assert target.getvalue() == b"a" * 10 + b"b" * 20
    raw.write(b"c" * (_Coalesced.LIMIT - 1))
    assert len(target.getvalue()) == 30
    raw.write(b"d")
    assert target.getvalue() == b"a" * 10 + b"b" * 20 + b"c" * (_Coalesced.LIMIT - 1) + b"d"
    raw.flush()  # nothing pending: nothing more
    assert len(target.getvalue()) == 30 + _Coalesced.LIMIT
