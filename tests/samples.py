"""The sample captures the tests run on (see samples/README.md for how each was made)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES_DIR = ROOT / "samples"
CERTS_DIR = SAMPLES_DIR / "certs"

# MySQL servers of the lab listen on these ports besides 3306; port 13306 is left for
# capture-tls to find by the greeting (tshark needs to be told).
LAB_PORTS = (3307, 3308)
ODD_PORT = 13306
# The client matrix's servers (tests/lab_matrix/scenarios.py): one port per certificate.
MATRIX_PORTS = tuple(range(3311, 3326))

# Robustness inputs: tshark gives up on these in its own way (samples/README.md), so they are
# checked by their own tests rather than by agreement with tshark.
_NOT_FOR_ORACLE_PREFIXES = ("derived/malformed-", "derived/truncated-")


# Captures of other protocols only: capture-tls and tshark must both find no MySQL in them.
NEGATIVE = frozenset({"http.pcap", "https.pcap", "postgres.pcap"})
# tshark cannot know that a capture starting at the ClientHello is TLS on the MySQL port.
_TSHARK_EXTRA_DECODE = {"derived/mid-connection.pcap": {"tcp.port==3306": "tls"}}


@dataclass(frozen=True)
class Sample:
    name: str  # path below samples/
    ports: tuple[int, ...]  # non-default MySQL ports tshark must be told about

    @property
    def tshark_decode_as(self) -> dict[str, str]:
        d = {f"tcp.port=={p}": "mysql" for p in self.ports}
        d.update(_TSHARK_EXTRA_DECODE.get(self.name, {}))
        return d


def all_samples() -> list[Sample]:
    out = []
    for path in sorted(SAMPLES_DIR.rglob("*.pcap*")):
        name = path.relative_to(SAMPLES_DIR).as_posix()
        if name.startswith(("lab/", "derive/")):
            continue
        out.append(Sample(name, (*LAB_PORTS, ODD_PORT, *MATRIX_PORTS)))
    return out


SAMPLES = all_samples()
ORACLE_SAMPLES = [
    s for s in SAMPLES
    if not s.name.startswith(_NOT_FOR_ORACLE_PREFIXES) and s.name not in NEGATIVE
]
NEGATIVE_SAMPLES = [s for s in SAMPLES if s.name in NEGATIVE]
