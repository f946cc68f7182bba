"""The lab differential test: real clients against real servers, and capture-tls on the
capture of each attempt (issue 3).

For every (client, scenario) of tests/lab_matrix, the client runs once in its own network
namespace with tcpdump around it; then capture-tls analyzes that capture with ``--client``
the client's family and ``--ca`` the CA the client was given. What the real client did is the
authority (tests/lab_matrix/OBSERVED.md): capture-tls's outcome, SNI, alerts and per-family
verdict must agree with it.

Runs as root only (network namespaces); the clients come from scripts/install-clients.sh. A
client that is not installed is skipped, except under CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

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



@dataclass(frozen=True)
class Cell:
    attempt: Attempt
    connections: list[dict[str, Any]]
    wire: WireSummary


@dataclass
class MatrixRun:
    cells: dict[tuple[str, str], Cell]
    skipped: dict[str, str]  # client name -> why it could not run


@pytest.fixture(scope="module")
def matrix() -> Iterator[MatrixRun]:
    with tempfile.TemporaryDirectory(prefix="capture-tls-matrix-") as tmp:
        with LabMatrix(Path(tmp)) as lab_matrix:
            skipped = {c.name: why for c in CLIENTS
                       if (why := c.missing(lab_matrix.tools)) is not None}
            attempts = lab_matrix.run_all()
        # The servers are gone; the captures stay until the module's tests are done.
        with ThreadPoolExecutor(max_workers=8) as pool:
            analyzed = dict(zip(attempts, pool.map(analyze_attempt, attempts.values()),
                                strict=True))
            wires = dict(zip(attempts, pool.map(wire_summary, attempts.values()), strict=True))
        cells = {key: Cell(attempts[key], analyzed[key], wires[key]) for key in attempts}
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
    assert len(cell.connections) == len(attempt.client_ports), (
        f"capture-tls found {len(cell.connections)} of the {len(attempt.client_ports)} "
        f"connections (client ports {attempt.client_ports}) in {attempt.capture}")
    return cell


CELLS = [pytest.param(c, s, id=f"{c.name}-{s.name}") for c in CLIENTS for s in SCENARIOS]

@pytest.mark.parametrize(("runner", "scenario"), CELLS)
def test_lab_behaves(matrix: MatrixRun, runner: ClientRunner, scenario: Scenario) -> None:
    """The lab itself: good certificates connect, bad chains and dates never do."""
    attempt = _cell(matrix, runner, scenario).attempt
    if scenario.name in ALL_CONNECT:
        assert attempt.connected, f"{runner.name} refused a good certificate: {attempt.output}"
    if scenario.name in ALL_REFUSE:
        assert not attempt.connected, f"{runner.name} accepted {scenario.name}"
        assert attempt.error, "a refusing client printed no error"


@pytest.mark.parametrize(("runner", "scenario"), CELLS)
def test_wire_facts_agree_with_tshark(
    matrix: MatrixRun, runner: ClientRunner, scenario: Scenario
) -> None:
    """capture-tls's SNI and client alerts are what tshark reads in the same connection.

    Alerts are compared up to the login: capture-tls stops reading a connection once the
    session is established (a close_notify at the end of a session is not its business).
    """
    cell = _cell(matrix, runner, scenario)
    connection = cell.connections[0]
    tls = connection["tls"]
    assert tls is not None, "capture-tls saw no TLS in a TLS connection"
    assert tls["sni"] == cell.wire.sni
    ours = [("encrypted" if a["encrypted"] else f"{a['level']}:{a['description']}")
            for a in tls["alerts"] if a["sender"] == "client"]
    if not cell.wire.client_app_data:
        assert ours == list(cell.wire.client_alerts)


@pytest.mark.parametrize(("runner", "scenario"), CELLS)
def test_outcome_agrees_with_client(
    matrix: MatrixRun, runner: ClientRunner, scenario: Scenario
) -> None:
    """What the capture shows happened is what happened: a session, or a refusal."""
    cell = _cell(matrix, runner, scenario)
    outcome = cell.connections[0]["outcome"]
    if cell.attempt.connected:
        assert outcome == "tls-established"
    else:
        assert outcome in REFUSED_OUTCOMES, (
            f"{runner.name} refused ({cell.attempt.error}); wire: "
            f"{' '.join(cell.wire.events)}")


@pytest.mark.parametrize(("runner", "scenario"), CELLS)
def test_verdict_agrees_with_client(
    matrix: MatrixRun, runner: ClientRunner, scenario: Scenario
) -> None:
    """The family's verdict is the real client's decision.

    With name verification on, ``verdicts.clients[family].verify_identity``; the two runners
    without it (mariadb CLI without --ssl-verify-server-cert, mysql2 without verifyIdentity)
    check the chain and dates only: ``verdicts.verify_ca``.
    """
    cell = _cell(matrix, runner, scenario)
    verdicts = cell.connections[0]["verdicts"]
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
    """The article's case: the dialed name is a CNAME, the certificate names the target."""
    cell = _cell(matrix, runner, next(s for s in SCENARIOS if s.name == "cname"))
    connection = cell.connections[0]
    host = connection["intended_host"]
    assert host is not None
    assert host["name"] == "alias.lab.test"
    assert host["cname_chain"] == ["alias.lab.test", "target.lab.test"]
    assert "MATCHES_CNAME_TARGET_ONLY" in {f["code"] for f in connection["findings"]}
