"""Reports made for support tickets (issue 6): Markdown and HTML goldens on real samples, the
HTML page in a real headless Chromium (no request beyond its own file), escaping of hostile
capture text, --redact, --export-certs, trim, the summary table and the progress bar.

Goldens: `CAPTURE_TLS_UPDATE_GOLDEN=1 python -m pytest tests/test_tickets.py` rewrites them;
read the diff before committing.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html as html_module
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from markdown_it import MarkdownIt

from capture_tls.analysis.model import (
    Alert,
    ClientVerdict,
    Finding,
    HandshakeStep,
    InputWarning,
    IntendedHost,
    MysqlErr,
    Report,
)
from capture_tls.analysis.options import AnalysisOptions
from capture_tls.analysis.pipeline import analyze_file
from capture_tls.cli import build_report_object, cli
from capture_tls.reporting.html_report import render_html
from capture_tls.reporting.json_report import load_schema, report_to_dict
from capture_tls.reporting.markdown_report import render_markdown
from capture_tls.reporting.redact import redact
from capture_tls.reporting.ticket_common import validity_relative_to
from tests.samples import ROOT, SAMPLES_DIR

GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("CAPTURE_TLS_UPDATE_GOLDEN") == "1"
SCHEMA = load_schema()
GOLDEN_SAMPLES = ("tls12-mismatch.pcap", "plaintext.pcap", "tls13.pcap")
CLIENT_IP = "10.77.1.10"
SERVER_IP = "10.77.1.20"
PLAINTEXT_USERS = ("plain", "tlsonly")


def run(*args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(cli, list(args), obj={"argv": list(args)})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def in_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the repository root, so that reports name inputs as `samples/...`."""
    monkeypatch.chdir(ROOT)
    return ROOT


def sample_report(name: str) -> Report:
    path = f"samples/{name}"
    result = analyze_file(str(ROOT / path), 0, AnalysisOptions())
    summary = dataclasses.replace(result.summary, path=path)
    return build_report_object(
        ["capture-tls", "analyze", path], [summary], result.warnings, result.connections
    )


# --- goldens ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["markdown", "html", "text"])
@pytest.mark.parametrize("name", GOLDEN_SAMPLES)
def test_golden(in_root: Path, name: str, fmt: str) -> None:
    args = ["analyze", f"samples/{name}", "--format", fmt]
    if fmt == "text":
        args += ["--width", "100", "--no-color"]
    _code, out, _err = run(*args)
    suffix = {"markdown": "md", "html": "html", "text": "txt"}[fmt]
    path = GOLDEN / f"ticket_{name.removesuffix('.pcap')}.{suffix}"
    if UPDATE_GOLDEN:
        path.write_text(out, encoding="utf-8")
        pytest.skip(f"rewrote {path}; review the diff")
    assert out == path.read_text(encoding="utf-8")


def test_goldens_hold_the_facts_of_the_capture() -> None:
    """What a reader of the goldens must find, checked against the capture's own facts
    (samples/README.md, tshark-facts.json), not against the renderer."""
    md = (GOLDEN / "ticket_tls12-mismatch.md").read_text(encoding="utf-8")
    page = (GOLDEN / "ticket_tls12-mismatch.html").read_text(encoding="utf-8")
    facts = json.loads((SAMPLES_DIR / "tshark-facts.json").read_text(encoding="utf-8"))
    [entry] = [f for f in facts if f["file"] == "tls12-mismatch.pcap"]
    fingerprints = {
        cert["sha256"]
        for conn in entry["connections"]
        for chain in conn["certificates"].get("server", [])
        for cert in chain
    }
    assert len(fingerprints) == 2, "tshark saw the leaf and the intermediate"
    for fp in fingerprints:
        assert fp in md and fp in page
    sha = hashlib.sha256((SAMPLES_DIR / "tls12-mismatch.pcap").read_bytes()).hexdigest()
    for doc in (md, page):
        assert sha in doc and "capture-tls analyze samples/tls12-mismatch.pcap" in doc
        assert "legacy.lab.test" in doc and "db.lab.test" in doc
        assert "MATCHES_CNAME_TARGET_ONLY" in doc and "bad_certificate" in doc
    assert "```mermaid\nsequenceDiagram" in md
    assert md.count("<details><summary>PEM</summary>") == 6  # 3 connections x 2 certificates
    assert "legacy.lab.test → db.lab.test" in md  # the CNAME chain
    # The verdict lines come first, one per connection.
    head = md.split("\n## Connection", 1)[0]
    assert len(re.findall(r"^- .* VERIFY\\_IDENTITY fail", head, re.M)) == 3


def test_validity_is_relative_to_the_capture() -> None:
    """reject-expired.pcap: the leaf expired 30 days before it was recorded (README)."""
    report = sample_report("reject-expired.pcap")
    conn = report.connections[0]
    leaf = conn.server_certificates[0]
    assert validity_relative_to(leaf, conn.first_seen) == "expired 30 days before the capture"
    ok = sample_report("tls12-match.pcap").connections[0]
    text = validity_relative_to(ok.server_certificates[0], ok.first_seen)
    assert text.startswith("valid at the capture: issued 1 day before it, expires 364 days")
    md = render_markdown(report)
    assert "expired 30 days before the capture" in md
    assert "expired 30 days before the capture" in render_html(report)


# --- hostile strings ----------------------------------------------------------------------------

EVIL = (
    "<script>alert(1)</script><img src=x onerror=alert(2)> **b** _i_ [l](http://evil.test/) "
    "`tick` ``` | pipe | </details></td> \n# head\r\x1b[31m \u202eevil www.evil.test "
    "x@evil.test &amp; &lt;b&gt; {{ }} %% ; #59; -->> \\"
)
EVIL_MARKERS = ("<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "[l](http://evil")


def hostile_report() -> Report:
    base = sample_report("tls12-mismatch.pcap")
    conn = base.connections[2]  # the PyMySQL connection with a client alert
    assert conn.tls is not None and conn.intended_host is not None
    certs = tuple(
        dataclasses.replace(c, subject="CN=" + EVIL, subject_cn=EVIL, issuer=EVIL,
                            san_dns=(EVIL, "ok.test"), public_key=EVIL)
        for c in conn.server_certificates
    )
    hostile = dataclasses.replace(
        conn,
        mysql=dataclasses.replace(conn.mysql, server_version=EVIL, username=EVIL,
                                  error=MysqlErr(1045, EVIL, EVIL)),
        tls=dataclasses.replace(conn.tls, sni=EVIL, alpn=(EVIL,), cipher_suite=EVIL,
                                alerts=(Alert("client", "fatal", EVIL, 42, False),)),
        server_certificates=certs,
        intended_host=IntendedHost(EVIL, "sni", (EVIL, "b.test"), (EVIL,)),
        verdicts=dataclasses.replace(
            conn.verdicts, client_family_name=EVIL,
            clients=((EVIL, ClientVerdict("fail", EVIL, "tested")),
                     ("mariadb", ClientVerdict("pass", "fine", "from-source")))),
        findings=(Finding("HOSTNAME_MISMATCH", "error", EVIL, EVIL),),
        handshake=(*conn.handshake, HandshakeStep(conn.handshake[-1].time, "server", EVIL)),
    )
    return dataclasses.replace(
        base,
        command=("capture-tls", "analyze", EVIL),
        inputs=tuple(dataclasses.replace(i, path=EVIL) for i in base.inputs),
        warnings=(InputWarning("MALFORMED_PACKETS", EVIL, 1, EVIL),),
        connections=(hostile,),
    )


def _gfm() -> MarkdownIt:
    # CommonMark with raw HTML allowed (as GitHub allows a safe subset) plus GFM tables.
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def test_markdown_keeps_hostile_text_inert() -> None:
    text = render_markdown(hostile_report())
    tokens = _gfm().parse(text)
    rendered = _gfm().render(text)
    # No tag from the capture became markup: the only raw HTML is our own <details> blocks.
    html_blocks = [t.content for t in tokens if t.type in ("html_block", "html_inline")]
    for block in html_blocks:
        assert block.strip() in ("<details><summary>PEM</summary>", "</details>"), block
    inline_html = [c.content for t in tokens if t.children for c in t.children
                   if c.type == "html_inline"]
    assert inline_html == []
    assert "<script" not in rendered and "<img" not in rendered and "<a " not in rendered
    assert "<h1>" in rendered and rendered.count("<h1>") == 1  # "# head" is no heading
    # Emphasis only where the renderer put it (verdict marks, labels), never from EVIL.
    assert "<strong>b</strong>" not in rendered and "<em>i</em>" not in rendered
    # Tables: every row has as many cells as its header ("|" in a value does not split).
    for table in re.findall(r"<table>.*?</table>", rendered, re.S):
        header = len(re.findall(r"<th[ >]", table.split("</thead>")[0]))
        for row in re.findall(r"<tr>(.*?)</tr>", table.split("</thead>")[1], re.S):
            assert len(re.findall(r"<td[ >]", row)) == header
    # The hostile text is still there, as text, on one line.
    plain = html_module.unescape(re.sub(r"<[^>]+>", "", rendered))
    for marker in EVIL_MARKERS:
        assert marker in plain
    assert "\x1b" not in text and "\u202e" not in text and "\r" not in text
    assert "\\x1b[31m" in plain and "\\u202e" in plain and "\\x0a" in plain
    # Mermaid: only the sanitized alphabet in message labels.
    [mermaid] = re.findall(r"```mermaid\n(.*?)\n```", text, re.S)
    for line in mermaid.split("\n")[3:]:
        assert re.fullmatch(r"    (C->>S|S->>C): [A-Za-z0-9 .,()/+=_'@?\-]+", line), line
    # Every fenced block is closed where we closed it: fences are longer than any backtick run.
    fences = [t for t in tokens if t.type == "fence"]
    infos = [t.info for t in fences]
    assert infos.count("mermaid") == 1 and infos.count("sh") == 1
    assert infos.count("text") == 1 + len(hostile_report().connections[0].server_certificates)


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_keeps_hostile_text_inert() -> None:
    page = render_html(hostile_report())
    parser = _Collect()
    parser.feed(page)
    tags = {t for t, _ in parser.tags}
    assert not tags & {"script", "img", "iframe", "object", "embed", "link", "a", "form",
                       "base", "foreignobject", "image", "use"}
    assert [t for t, _ in parser.tags].count("style") == 1
    for tag, attrs in parser.tags:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            assert "evil" not in (value or ""), (tag, name, value)
            assert "url(" not in (value or "") and "http" not in (value or "")
    text = "".join(parser.text)
    for marker in EVIL_MARKERS:
        assert marker in text
    assert "\x1b" not in page and "\u202e" not in page
    assert "http:" not in page.replace("http://evil.test/", "").replace("http://evil", "")
    assert "url(" not in page and "@import" not in page and "<link" not in page


# --- the HTML page in a real browser ------------------------------------------------------------

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
)


def _chromium() -> str:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("Debian's chromium is not installed (scripts/install-test-deps.sh)")
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root for a network namespace of its own (unshare -n)")
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot make a network namespace here (unshare -n)")
    return exe


class DevTools:
    """Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: the
    browser reads commands from fd 3 and writes to fd 4, each message ending with NUL). The
    browser runs in a network namespace with only a loopback that is down (`unshare -n`):
    whatever it might try, nothing leaves the machine."""

    def __init__(self, exe: str, profile: Path) -> None:
        cmd_read, self._cmd_write = os.pipe()
        self._out_read, out_write = os.pipe()

        def child() -> None:
            a, b = os.dup(cmd_read), os.dup(out_write)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            ["unshare", "-n", exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
             "--remote-debugging-pipe", "about:blank"],
            preexec_fn=child, close_fds=False,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(cmd_read)
        os.close(out_write)
        self._buffer = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._cmd_write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 60
        while True:
            for m in self._read(deadline):
                if m.get("id") == self._id:
                    if "error" in m:
                        raise RuntimeError(f"{method}: {m['error']}")
                    result: dict[str, Any] = m["result"]
                    return result
                self.events.append(m)

    def wait_for(self, method: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.extend(self._read(deadline))

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.extend(self._read(deadline))
        except TimeoutError:
            pass

    def _read(self, deadline: float) -> list[dict[str, Any]]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        ready, _, _ = select.select([self._out_read], [], [], left)
        if not ready:
            raise TimeoutError
        chunk = os.read(self._out_read, 1 << 20)
        if not chunk:
            raise EOFError("chromium closed the DevTools pipe")
        self._buffer += chunk
        *messages, self._buffer = self._buffer.split(b"\0")
        return [json.loads(m) for m in messages if m]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        os.close(self._cmd_write)
        os.close(self._out_read)


def _open_page(exe: str, tmp: Path, url: str) -> dict[str, Any]:
    """Load `url`; return the requests the page made, its text (screen and print), a
    screenshot."""
    browser = DevTools(exe, tmp / "profile")
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})
        session = browser.call("Target.attachToTarget",
                               {"targetId": target["targetId"], "flatten": True})["sessionId"]
        browser.call("Network.enable", session=session)
        browser.call("Page.enable", session=session)
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": 1200, "height": 1600, "deviceScaleFactor": 1, "mobile": False},
                     session=session)
        browser.call("Page.navigate", {"url": url}, session=session)
        browser.wait_for("Page.loadEventFired")
        browser.drain(1.0)  # anything the page would fetch late
        text = browser.call("Runtime.evaluate", {"expression": "document.body.innerText",
                                                 "returnByValue": True}, session=session)
        shot = browser.call("Page.captureScreenshot", {"format": "png"}, session=session)
        browser.call("Emulation.setEmulatedMedia", {"media": "print"}, session=session)
        printed = browser.call("Runtime.evaluate", {"expression": "document.body.innerText",
                                                    "returnByValue": True}, session=session)
        browser.drain(0.3)
    finally:
        browser.close()
    requests = [e["params"]["request"]["url"] for e in browser.events
                if e.get("method") == "Network.requestWillBeSent"]
    failed = [e["params"] for e in browser.events if e.get("method") == "Network.loadingFailed"]
    return {
        "requests": requests,
        "failed": failed,
        "text": text["result"]["value"],
        "print_text": printed["result"]["value"],
        "png": base64.b64decode(shot["data"]),
    }


def _png_size_and_colours(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")
    height = int.from_bytes(png[20:24], "big")
    return width, height


def test_html_report_in_headless_chromium(in_root: Path, tmp_path: Path) -> None:
    exe = _chromium()
    page = tmp_path / "report.html"
    code, _out, _err = run("analyze", "samples/tls12-mismatch.pcap", "--format", "html",
                           "-o", str(page))
    assert code == 1  # error findings
    url = page.as_uri()
    seen = _open_page(exe, tmp_path, url)
    # The browser's own network log: the page asked for nothing but itself.
    assert seen["requests"] == [url]
    assert seen["failed"] == []
    # The rendered text holds the verdicts and the fingerprints of the capture.
    report = sample_report("tls12-mismatch.pcap")
    text = seen["text"]
    for conn in report.connections:
        assert f"{conn.id} 10.77.1.10:{conn.client.port} → 10.77.1.20:3306 (legacy.lab.test): " \
               "VERIFY_IDENTITY fail" in text
        for cert in conn.server_certificates:
            assert cert.sha256 in text
    assert "BEGIN CERTIFICATE" not in text  # PEM folded away on screen ...
    assert "BEGIN CERTIFICATE" in seen["print_text"]  # ... and printed out
    shot = tmp_path / "report.png"
    shot.write_bytes(seen["png"])
    assert _png_size_and_colours(seen["png"]) == (1200, 1600)
    assert len(seen["png"]) > 20_000  # a page with text and a diagram, not a blank one
    keep = os.environ.get("CAPTURE_TLS_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


def test_the_request_log_sees_an_outside_request(tmp_path: Path) -> None:
    """Control for the test above: a page that does fetch something is caught."""
    exe = _chromium()
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><p>control</p><img src="http://192.0.2.1/x.png">',
                    encoding="utf-8")
    seen = _open_page(exe, tmp_path, page.as_uri())
    assert seen["requests"][0] == page.as_uri()
    assert "http://192.0.2.1/x.png" in seen["requests"]


def test_html_report_dump_dom(in_root: Path, tmp_path: Path) -> None:
    exe = _chromium()
    page = tmp_path / "report.html"
    run("analyze", "samples/tls13.pcap", "--format", "html", "-o", str(page))
    proc = subprocess.run(
        ["unshare", "-n", exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    )
    dom = proc.stdout
    report = sample_report("tls13.pcap")
    assert len(report.connections) == 2
    for conn in report.connections:
        assert f"VERIFY_IDENTITY {conn.verdicts.verify_identity}" in dom
        for cert in conn.server_certificates:
            assert cert.sha256 in dom
    assert "<script" not in dom


# --- --redact -----------------------------------------------------------------------------------


def _forbidden(text: str) -> list[str]:
    """Client addresses and user names of plaintext.pcap still in `text` (as whole tokens)."""
    found = []
    if re.search(r"(?<![\d.])10\.77\.1\.10(?![\d])", text):
        found.append(CLIENT_IP)
    for user in PLAINTEXT_USERS:
        if re.search(rf"(?<![\w]){user}(?![\w])", text):
            found.append(user)
    return found


@pytest.mark.parametrize("fmt", ["text", "json", "jsonl", "markdown", "html"])
def test_redact_leaves_no_client_address_or_user(in_root: Path, fmt: str) -> None:
    _code, clear, _ = run("analyze", "samples/plaintext.pcap", "--format", fmt)
    assert set(_forbidden(clear)) == {CLIENT_IP, *PLAINTEXT_USERS}  # they are there ...
    _code, out, _ = run("analyze", "samples/plaintext.pcap", "--format", fmt, "--redact")
    assert _forbidden(out) == []  # ... and gone
    assert "client-1" in out and "user-1" in out and "user-2" in out
    assert SERVER_IP in out and "10.11.19-MariaDB" in out  # servers stay
    if fmt == "json":
        doc = json.loads(out)
        jsonschema.validate(doc, SCHEMA)
        users = [c["mysql"]["username"] for c in doc["connections"]]
        assert users == ["user-1", "user-2", "user-1"]  # plain, tlsonly, plain
        assert {c["client"]["ip"] for c in doc["connections"]} == {"client-1"}
        assert "'user-2'@'client-1'" in doc["connections"][1]["mysql"]["error"]["message"]


def test_redact_keeps_certificates_and_verdicts() -> None:
    report = sample_report("tls12-mismatch.pcap")
    red = report_to_dict(redact(report))
    orig = report_to_dict(report)
    for a, b in zip(orig["connections"], red["connections"], strict=True):
        assert b["client"] == {"ip": "client-1", "port": a["client"]["port"]}
        for key in ("server", "server_certificates", "verdicts", "intended_host", "outcome",
                    "tls"):
            assert a[key] == b[key]
        assert [f["code"] for f in a["findings"]] == [f["code"] for f in b["findings"]]


def test_redact_replaces_whole_tokens_only() -> None:
    base = sample_report("plaintext.pcap")
    conn = dataclasses.replace(
        base.connections[0],
        findings=(Finding("NO_TLS", "error",
                          "user 'plain' in plaintext from 10.77.1.10, not 10.77.1.100", ""),),
    )
    red = redact(dataclasses.replace(base, connections=(conn,)))
    assert red.connections[0].findings[0].message == (
        "user 'user-1' in plaintext from client-1, not 10.77.1.100"
    )


# --- --export-certs -----------------------------------------------------------------------------


def test_export_certs(in_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "certs"
    code, _o, err = run("analyze", "samples/tls12-mismatch.pcap", "samples/client-cert.pcap",
                        "--format", "json", "--export-certs", str(out))
    assert code == 1
    names = sorted(p.name for p in out.iterdir())
    fingerprints = [n for n in names if re.fullmatch(r"[0-9a-f]{64}\.pem", n)]
    # db leaf, intermediate, the x509user client certificate (client-cert.pcap)
    assert len(fingerprints) == 3
    for name in fingerprints:
        der = x509.load_pem_x509_certificate((out / name).read_bytes()).public_bytes(
            Encoding.DER)
        assert hashlib.sha256(der).hexdigest() + ".pem" == name
        shown = subprocess.run(["openssl", "x509", "-in", str(out / name), "-noout", "-text"],
                               capture_output=True, text=True, check=True).stdout
        assert "Certificate:" in shown
    assert "chain-10.77.1.20-3306.pem" in names
    chain = x509.load_pem_x509_certificates((out / "chain-10.77.1.20-3306.pem").read_bytes())
    assert [c.subject.rfc4514_string() for c in chain] == [
        "CN=db.lab.test,O=capture-tls lab",
        "CN=capture-tls lab Intermediate CA,O=capture-tls lab",
    ]
    assert "PEM files written" in err


# --- trim ---------------------------------------------------------------------------------------

TRIM_SAMPLES = (
    "tls12-mismatch.pcap", "tls12-match.pcap", "plaintext.pcap", "tls13.pcap",
    "ip-literal.pcap", "ipv6.pcap", "reject-expired.pcap", "client-cert.pcap",
    "resumption-tls12.pcap", "split-records.pcap", "multi-interface.pcapng",
    "nanosecond.pcap", "port13306.pcap", "port3307.pcap", "derived/port-reuse.pcap",
    "derived/mid-connection.pcap", "derived/tcp-gap.pcap", "derived/server-requires-tls.pcap",
)


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(doc)
    for key in ("inputs", "command"):
        doc.pop(key)
    doc["warnings"] = [{k: v for k, v in w.items() if k != "input"} for w in doc["warnings"]]
    return doc


@pytest.mark.parametrize("name", TRIM_SAMPLES)
def test_trim_analyzes_to_the_same_report(in_root: Path, tmp_path: Path, name: str) -> None:
    src = SAMPLES_DIR / name
    out = tmp_path / "trimmed.pcapng"
    extra = ["--port", "13306"] if "13306" in name else []  # port3307: found by greeting
    code, _o, err = run("trim", str(src), "-o", str(out), *extra)
    assert code == 0, err
    assert "kept" in err
    assert out.stat().st_size < src.stat().st_size
    _c, before, _e = run("analyze", str(src), "--format", "json", *extra)
    _c, after, _e = run("analyze", str(out), "--format", "json", *extra)
    a, b = json.loads(before), json.loads(after)
    jsonschema.validate(b, SCHEMA)
    assert a["connections"], "the sample has MySQL connections"
    assert _comparable(a) == _comparable(b)
    assert b["inputs"][0]["format"] == "pcapng"
    assert b["inputs"][0]["packets"] < a["inputs"][0]["packets"]


def _tshark_fields(path: Path, display_filter: str, field: str) -> list[str]:
    proc = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-Y", display_filter, "-T", "fields", "-e", field],
        capture_output=True, text=True, check=True, timeout=120,
    )
    return [v for line in proc.stdout.split() for v in line.split(",") if v]


@pytest.mark.parametrize("name", ["tls12-match.pcap", "tls12-mismatch.pcap"])
def test_trim_keeps_no_application_data(tmp_path: Path, name: str) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    src = SAMPLES_DIR / name
    out = tmp_path / "trimmed.pcapng"
    assert run("trim", str(src), "-o", str(out))[0] == 0
    records = _tshark_fields(src, f"ip.src=={CLIENT_IP} && tls.app_data", "tls.app_data")
    server_records = _tshark_fields(src, f"ip.src=={SERVER_IP} && tls.app_data",
                                    "tls.app_data")
    assert records and server_records  # logins, queries, answers in the original
    data = out.read_bytes()
    for hexed in records + server_records:
        body = bytes.fromhex(hexed.replace(":", ""))
        assert body not in data
    # The login record is still there as a header with a zeroed body (the analysis needs it).
    kept = _tshark_fields(out, f"ip.src=={CLIENT_IP} && tls.app_data", "tls.app_data")
    assert kept and all(set(bytes.fromhex(k.replace(":", ""))) == {0} for k in kept)


def test_trim_of_plaintext_drops_the_queries(tmp_path: Path) -> None:
    src = SAMPLES_DIR / "plaintext.pcap"
    out = tmp_path / "trimmed.pcapng"
    assert run("trim", str(src), "-o", str(out))[0] == 0
    original = src.read_bytes()
    assert b"version_comment" in original or b"SELECT" in original.upper()
    trimmed = out.read_bytes()
    assert b"version_comment" not in trimmed and b"select" not in trimmed.lower()


def test_trim_of_a_file_that_is_not_a_capture(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a capture\n", encoding="utf-8")
    code, _o, err = run("trim", str(bad), "-o", str(tmp_path / "x.pcapng"))
    assert code == 3 and "notes.txt" in err


# --- terminal: summary table, colour, progress --------------------------------------------------


def test_summary_table_only_for_many_connections(in_root: Path) -> None:
    many = ["samples/tls12-mismatch.pcap", "samples/tls12-match.pcap", "samples/plaintext.pcap"]
    _c, out, _e = run("analyze", *many, "--width", "120", "--no-color")
    head = out.split("\nConnection ", 1)[0]
    assert head.startswith("8 connections\n")
    rows = [line for line in head.splitlines() if re.match(r"\d+:\d+ ", line)]
    # ordered by first packet time across the inputs, as the connections are
    assert sorted(r.split()[0] for r in rows) == ["0:1", "0:2", "0:3", "1:1", "1:2", "2:1",
                                                  "2:2", "2:3"]
    first_mismatch = next(r for r in rows if r.startswith("0:1 "))
    assert first_mismatch.split()[4:7] == ["unknown", "fail", "tls-established"]
    _c, few, _e = run("analyze", "samples/tls12-mismatch.pcap", "--width", "120", "--no-color")
    assert few.startswith("Connection 0:1")
    _c, coloured, _e = run("analyze", *many, "--width", "120", "--color")
    assert "\x1b[1;31mfail" in coloured and "\x1b" not in out


def _run_with_stderr_tty(args: list[str]) -> tuple[bytes, bytes]:
    """The real program with stderr on a pseudo-terminal; stdout on a pipe."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "capture_tls", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
                            env={**os.environ, "COLUMNS": "100", "TERM": "xterm"})
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    stdout = proc.stdout.read() if proc.stdout else b""
    proc.wait(timeout=120)
    os.close(master)
    return stdout, b"".join(chunks)


def test_progress_bar_only_on_a_terminal(in_root: Path) -> None:
    args = ["analyze", "samples/tls12-match.pcap", "samples/plaintext.pcap", "--format", "json"]
    stdout, stderr = _run_with_stderr_tty(args)
    assert b"reading samples/" in stderr and b"files" in stderr
    json.loads(stdout)  # the report itself is untouched
    proc = subprocess.run([sys.executable, "-m", "capture_tls", *args], cwd=ROOT,
                          capture_output=True, timeout=120)
    assert proc.stderr == b""  # not a terminal: no bar
