"""The input's SHA-256 in the report is computed while the capture is read: from the chunks
for a small file, by a child process reading the same file for a large one. Either way it
must be the file's SHA-256, and nothing when the file changed under the reader."""

from __future__ import annotations

import hashlib
import shutil
import struct
from pathlib import Path

import pytest

from capture_tls.analysis.options import AnalysisOptions
from capture_tls.analysis.pipeline import analyze_file
from capture_tls.sources.captures import open_capture
from capture_tls.sources.fastreader import FastCaptureReader

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _big_pcap(tmp_path_factory.mktemp("hash"))


def _big_pcap(tmp_path: Path, megabytes: int = 33) -> Path:
    """A sample's records repeated (later copies shifted in time) past `megabytes`."""
    data = (SAMPLES / "tls12-match.pcap").read_bytes()
    header, records = data[:24], data[24:]
    assert struct.unpack_from("<I", header)[0] == 0xA1B2C3D4
    out = tmp_path / "big.pcap"
    with out.open("wb") as f:
        f.write(header)
        written, shift = 24, 0
        while written < megabytes << 20:
            pos = 0
            while pos < len(records):
                sec, usec, caplen, wirelen = struct.unpack_from("<IIII", records, pos)
                f.write(struct.pack("<IIII", sec + shift, usec, caplen, wirelen))
                f.write(records[pos + 16 : pos + 16 + caplen])
                pos += 16 + caplen
                written += 16 + caplen
            shift += 3600
    return out


@pytest.mark.parametrize("name", ["tls12-match.pcap", "editcap-embedded.pcapng"])
def test_small_files_hash_from_the_chunks(name: str) -> None:
    path = next(SAMPLES.rglob(name))
    result = analyze_file(str(path), 0, AnalysisOptions())
    assert result.summary.sha256 == _sha(path)


def test_a_large_file_is_hashed_by_a_child_process(big: Path) -> None:
    path = big
    reader = open_capture(str(path))
    assert isinstance(reader, FastCaptureReader)
    n = sum(1 for _ in reader.segments())
    assert n > 10_000
    assert reader._sha is not None and reader._sha._child is not None
    assert reader.sha256_hex() == _sha(path)
    result = analyze_file(str(path), 0, AnalysisOptions())
    assert result.summary.sha256 == _sha(path)
    assert result.reported > 100


def test_a_file_changed_while_read_has_no_digest_from_the_reader(big: Path,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "growing.pcap"
    shutil.copyfile(big, path)
    reader = open_capture(str(path))
    assert isinstance(reader, FastCaptureReader)
    for _ in reader.segments():
        pass
    with path.open("ab") as f:  # a capture still being written
        f.write(b"\0" * 16)
    assert reader.sha256_hex() is None


def test_a_reader_stopped_early_leaves_no_child(big: Path) -> None:
    path = big
    reader = open_capture(str(path))
    assert isinstance(reader, FastCaptureReader)
    it = reader.segments()
    next(it)
    child = reader._sha._child if reader._sha is not None else None
    assert child is not None
    it.close()  # the generator's finally closes the reader
    assert child.returncode is not None
    assert reader.sha256_hex() is None


