"""The lab differential test over TLS 1.3: the client matrix of tests/test_client_matrix.py
with every server forced to TLS 1.3 (issue 4), each client writing a TLS key log.

TLS 1.3 encrypts the server's Certificate, so capture-tls sees it only with the key log
(``--keylog``). For every (client, scenario):

* with ``--keylog`` the handshake is decrypted, the certificate chain is the one the server
  was given, and the outcome and ``verdicts.clients[family].verify_identity`` (or
  ``verify_ca`` for the two runners without name verification) agree with what the real client
  did, exactly as over TLS 1.2;
* without it, capture-tls says CERT_NOT_VISIBLE_TLS13 and still gets the version, the cipher
  suite, the SNI and the outcome right;
* SNI and client alerts agree with tshark's reading of the same capture (decrypted with the
  same key log).

How each client writes its key log: tests/lab_matrix/clients.py (KEYLOG_METHODS); the C
clients (mariadb CLI, the connector's C extension with its bundled OpenSSL 3.5, PHP) through
the LD_PRELOAD shim tests/lab_matrix/clients/keylog_shim.c, built at the start with gcc and
libssl-dev's headers. What the clients do on the wire: tests/lab_matrix/OBSERVED.md, "TLS 1.3".

Runs as root only (network namespaces); the clients come from scripts/install-clients.sh. A
client that is not installed is skipped, except under CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.lab_matrix.clients import CLIENTS, ClientRunner
from tests.lab_matrix.harness import (
    ALL_CONNECT,
    ALL_REFUSE,
    REFUSED_OUTCOMES,
    Attempt,
    LabMatrix,
    WireSummary,
    analyze_attempt,
    matrix_prerequisites_missing,
    wire_summary,
)
from tests.lab_matrix.scenarios import SCENARIOS, Scenario

pytestmark = pytest.mark.skipif(
    bool(matrix_prerequisites_missing()),
    reason=f"the lab needs: {', '.join(matrix_prerequisites_missing())}",
)

#: Findings that say the key log did not do its job.
KEY_TROUBLE = {"CERT_NOT_VISIBLE_TLS13", "KEYLOG_NO_SECRET", "DECRYPTION_FAILED"}

#: capture-tls's outcome used to disagree with mysql2 (FIN right after the server's flight,
#: no alert, no Finished) and, without the key log, with refusals after the handshake (the
#: client's encrypted Certificate + Finished taken for its login). Both are rules now
#: (report_builder._outcome, ConnectionState._tls13_finished_record_bytes); every cell must agree.


@dataclass(frozen=True)
class Cell:
    attempt: Attempt
    keyed: list[dict[str, Any]]  # capture-tls with --keylog
    unkeyed: list[dict[str, Any]]  # capture-tls without it
    wire: WireSummary  # tshark, decrypting with the key log
    server_sha256: str  # SHA-256 of the leaf certificate the server was given


@dataclass
class MatrixRun:
    cells: dict[tuple[str, str], Cell]
    skipped: dict[str, str]


def _sha256_of_pem(path: Path) -> str:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def _analyze_keyed(attempt: Attempt) -> list[dict[str, Any]]:
    assert attempt.keylog is not None
    return analyze_attempt(attempt, "--keylog", str(attempt.keylog))


def _wire(attempt: Attempt) -> WireSummary:
    return wire_summary(attempt, keylog=attempt.keylog)


@pytest.fixture(scope="module")
def matrix() -> Iterator[MatrixRun]:
    with tempfile.TemporaryDirectory(prefix="capture-tls-matrix13-") as tmp:
        with LabMatrix(Path(tmp), tls_version="TLSv1.3", keylogs=True) as lab_matrix:
            skipped = {c.name: why for c in CLIENTS
                       if (why := lab_matrix.missing(c)) is not None}
            leaves = {s.name: _sha256_of_pem(lab_matrix.server_certificate(s))
                      for s in SCENARIOS}
            attempts = lab_matrix.run_all()
        with ThreadPoolExecutor(max_workers=8) as pool:
            keyed = dict(zip(attempts, pool.map(_analyze_keyed, attempts.values()),
                             strict=True))
            unkeyed = dict(zip(attempts, pool.map(analyze_attempt, attempts.values()),
                               strict=True))
            wires = dict(zip(attempts, pool.map(_wire, attempts.values()), strict=True))
        cells = {key: Cell(attempts[key], keyed[key], unkeyed[key], wires[key],
                           leaves[key[1]]) for key in attempts}
        yield MatrixRun(cells, skipped)


def _cell(run: MatrixRun, runner: ClientRunner, scenario: Scenario) -> Cell:
    if runner.name in run.skipped:
        message = f"{runner.name}: {run.skipped[runner.name]}"
        if os.environ.get("CI"):
            pytest.fail(message + " (scripts/install-clients.sh installs it)")
        pytest.skip(message)
    cell = run.cells[runner.name, scenario.name]
    attempt = cell.attempt
    assert attempt.exit_status in (0, 1), (
        f"{runner.name} did not run properly (exit {attempt.exit_status}): {attempt.output}")
    assert attempt.client_ports, f"no connection to the server in {attempt.capture}"
    for connections in (cell.keyed, cell.unkeyed):
        assert len(connections) == len(attempt.client_ports), (
            f"capture-tls found {len(connections)} of the {len(attempt.client_ports)} "
            f"connections (client ports {attempt.client_ports}) in {attempt.capture}")
    return cell


def _cells(xfails: dict[tuple[str, str], str] | None = None) -> list[Any]:
    params = []
    for c in CLIENTS:
        for s in SCENARIOS:
            why = (xfails or {}).get((c.name, s.name))
            marks = [pytest.mark.xfail(reason=why, strict=True)] if why else []
            params.append(pytest.param(c, s, id=f"{c.name}-{s.name}", marks=marks))
    return params


CELLS = _cells()


@pytest.mark.parametrize(("runner", "scenario"), CELLS)
def test_lab_behaves(matrix: MatrixRun, runner: ClientRunner, scenario: Scenario) -> None:
    """The lab itself: TLS 1.3 on every connection, a key log from every client, good
    certificates connect, bad chains and dates never do."""
    cell = _cell(matrix, runner, scenario)
    attempt = cell.attempt
    assert attempt.keylog is not None and attempt.keylog.exists(), "the client wrote no key log"
    labels = {line.split(" ", 1)[0] for line in attempt.keylog.read_text().splitlines()}
    # The server's handshake secret (what decrypts its Certificate); an OpenSSL client that
    # refuses the chain stops before deriving its own (its alert goes in plaintext).
    assert "SERVER_HANDSHAKE_TRAFFIC_SECRET" in labels
    for connections in (cell.keyed, cell.unkeyed):
        assert connections[0]["tls"]["version"] == "TLS 1.3"
    if scenario.name in ALL_CONNECT:
        assert attempt.connected, f"{runner.name} refused a good certificate: {attempt.output}"
    if scenario.name in ALL_REFUSE:
        assert not attempt.connected, f"{runner.name} accepted {scenario.name}"
        assert attempt.error, "a refusing client printed no error"


@pytest.mark.parametrize(("runner", "scenario"), CELLS)
def test_keylog_decrypts_the_certificate(
    matrix: MatrixRun, runner: ClientRunner, scenario: Scenario
) -> None:
    """With the client's key log the handshake is decrypted and the certificate is the one the
    server was given."""
    cell = _cell(matrix, runner, scenario)
    connection = cell.keyed[0]
    tls = connection["tls"]
    assert tls["decrypted"] is True
    assert tls["certificate_visible"] is True
    assert connection["server_certificates"], "no server certificate after decryption"
    assert connection["server_certificates"][0]["sha256"] == cell.server_sha256
    codes = {f["code"] for f in connection["findings"]}
    assert not codes & KEY_TROUBLE, f"key trouble: {codes & KEY_TROUBLE}"


@pytest.mark.parametrize(("runner", "scenario"), CELLS)
def test_without_keylog_certificate_not_visible(
    matrix: MatrixRun, runner: ClientRunner, scenario: Scenario
) -> None:
    """Without the key log: CERT_NOT_VISIBLE_TLS13, no certificate, and everything still
    visible is what the decrypted analysis says (version, cipher suite, SNI)."""
    cell = _cell(matrix, runner, scenario)
    plain, keyed = cell.unkeyed[0], cell.keyed[0]
    assert plain["tls"]["certificate_visible"] is False
    assert plain["tls"]["decrypted"] is False
    assert plain["server_certificates"] == []
    assert "CERT_NOT_VISIBLE_TLS13" in {f["code"] for f in plain["findings"]}
    for key in ("version", "cipher_suite", "sni"):
        assert plain["tls"][key] == keyed["tls"][key], key
    assert plain["tls"]["sni"] == cell.wire.sni


@pytest.mark.parametrize(("runner", "scenario"), CELLS)
def test_wire_facts_agree_with_tshark(
    matrix: MatrixRun, runner: ClientRunner, scenario: Scenario
) -> None:
    """capture-tls's SNI and client alerts (decrypted with the key log) are what tshark reads
    with the same key log, up to the login; without the key log the client's plaintext alerts
    are the same (an encrypted alert is then an application-data record like any other)."""
    cell = _cell(matrix, runner, scenario)
    tls = cell.keyed[0]["tls"]
    assert tls["sni"] == cell.wire.sni
    if cell.wire.client_app_data:
        return
    ours = [f"{a['level']}:{a['description']}" for a in tls["alerts"]
            if a["sender"] == "client"]
    assert ours == list(cell.wire.client_alerts)
    plain = [a for a in cell.unkeyed[0]["tls"]["alerts"] if a["sender"] == "client"]
    assert [f"{a['level']}:{a['description']}" for a in plain if not a["encrypted"]] == [
        f"{a['level']}:{a['description']}" for a in tls["alerts"]
        if a["sender"] == "client" and not a["encrypted"]]


def _assert_outcome(cell: Cell, connection: dict[str, Any], runner: ClientRunner) -> None:
    outcome = connection["outcome"]
    if cell.attempt.connected:
        assert outcome == "tls-established"
    else:
        assert outcome in REFUSED_OUTCOMES, (
            f"{runner.name} refused ({cell.attempt.error}); wire: "
            f"{' '.join(cell.wire.events)}")


@pytest.mark.parametrize(("runner", "scenario"), CELLS)
def test_outcome_agrees_with_client(
    matrix: MatrixRun, runner: ClientRunner, scenario: Scenario
) -> None:
    """With the key log, what the capture shows happened is what happened."""
    cell = _cell(matrix, runner, scenario)
    _assert_outcome(cell, cell.keyed[0], runner)


@pytest.mark.parametrize(("runner", "scenario"), CELLS)
def test_outcome_without_keylog_agrees_with_client(
    matrix: MatrixRun, runner: ClientRunner, scenario: Scenario
) -> None:
    """Without the key log too, and the outcome is the one of the decrypted analysis."""
    cell = _cell(matrix, runner, scenario)
    _assert_outcome(cell, cell.unkeyed[0], runner)
    assert cell.unkeyed[0]["outcome"] == cell.keyed[0]["outcome"]


@pytest.mark.parametrize(("runner", "scenario"), CELLS)
def test_verdict_agrees_with_client(
    matrix: MatrixRun, runner: ClientRunner, scenario: Scenario
) -> None:
    """The family's verdict on the decrypted certificate is the real client's decision (as in
    the TLS 1.2 test: ``verify_identity`` of the family, ``verify_ca`` for the runners
    without name verification)."""
    cell = _cell(matrix, runner, scenario)
    verdicts = cell.keyed[0]["verdicts"]
    expected = "pass" if cell.attempt.connected else "fail"
    if runner.verify_identity:
        family = verdicts["clients"][runner.family]
        assert family["verify_identity"] == expected, (
            f"{runner.name} {'connected' if cell.attempt.connected else 'refused'} "
            f"({cell.attempt.error}); capture-tls {runner.family}: {family}")
        assert family["rules"] == "tested"
    else:
        assert verdicts["verify_ca"] == expected


@pytest.mark.parametrize("runner", [pytest.param(c, id=c.name) for c in CLIENTS])
def test_cname_scenario_names_the_cname_chain(matrix: MatrixRun, runner: ClientRunner) -> None:
    """The article's case over TLS 1.3: found only once the certificate is decrypted."""
    cell = _cell(matrix, runner, next(s for s in SCENARIOS if s.name == "cname"))
    connection = cell.keyed[0]
    host = connection["intended_host"]
    assert host is not None
    assert host["name"] == "alias.lab.test"
    assert host["cname_chain"] == ["alias.lab.test", "target.lab.test"]
    assert "MATCHES_CNAME_TARGET_ONLY" in {f["code"] for f in connection["findings"]}
    plain = {f["code"] for f in cell.unkeyed[0]["findings"]}
    assert "MATCHES_CNAME_TARGET_ONLY" not in plain
