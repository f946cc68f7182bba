"""The atheris harness runs for a bounded time in CI, seeded with the samples."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.samples import SAMPLES_DIR

ROOT = Path(__file__).resolve().parent.parent
SECONDS = int(os.environ.get("CAPTURE_TLS_FUZZ_SECONDS", "45"))


def test_fuzz_the_whole_path(tmp_path: Path) -> None:
    seeds = sorted(p for p in SAMPLES_DIR.rglob("*.pcap*") if p.stat().st_size < 40_000)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for seed in seeds:  # libFuzzer reads corpus directories; the samples seed it
        (corpus / seed.name).write_bytes(seed.read_bytes())
    r = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / "fuzz_capture.py"), f"-max_total_time={SECONDS}",
         "-timeout=2", "-rss_limit_mb=2048", "-max_len=65536", str(corpus)],
        cwd=ROOT, capture_output=True, text=True, timeout=SECONDS + 120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    tail = (r.stdout + r.stderr)[-4000:]
    assert r.returncode == 0, tail
    assert "Done" in tail or "done" in tail, tail
