"""The finding codes of ../shared/DESIGN.md with their severities. Never rename a code."""

from __future__ import annotations

from capture_tls.analysis.model import Finding, Severity

__all__ = ["FINDING_SEVERITY", "INPUT_WARNING_CODES", "finding"]

FINDING_SEVERITY: dict[str, Severity] = {
    # error
    "HOSTNAME_MISMATCH": "error",
    "MATCHES_CNAME_TARGET_ONLY": "error",
    "EXPIRED": "error",
    "NOT_YET_VALID": "error",
    "UNTRUSTED_ROOT": "error",
    "CHAIN_INCOMPLETE": "error",
    "CLIENT_REJECTED_CERT": "error",
    "NO_TLS": "error",
    "SERVER_REQUIRES_TLS": "error",
    # warning
    "VERDICT_CONTRADICTS_OUTCOME": "warning",
    "CN_ONLY_NO_SAN": "warning",
    "WILDCARD_DEPTH": "warning",
    "IP_NOT_IN_SAN": "warning",
    "SELF_SIGNED": "warning",
    "EXPIRES_SOON": "warning",
    "WEAK_KEY": "warning",
    "WEAK_SIGNATURE": "warning",
    "OLD_TLS_VERSION": "warning",
    "CERT_NOT_VISIBLE_TLS13": "warning",
    "KEYLOG_NO_SECRET": "warning",
    "DECRYPTION_FAILED": "warning",
    "CLOSED_AFTER_HANDSHAKE": "warning",
    "TRUNCATED_CAPTURE": "warning",
    "STREAM_GAP": "warning",
    "MALFORMED": "warning",
    # info
    "INTENDED_HOST_UNKNOWN": "info",
    "SESSION_RESUMED": "info",
}

INPUT_WARNING_CODES = (
    "TRUNCATED_FILE",
    "DAMAGED_BLOCK",
    "MALFORMED_PACKETS",
    "LIMIT_REACHED",
    "INTERNAL_ERROR",
)


def finding(code: str, message: str, remedy: str) -> Finding:
    """A finding with the severity DESIGN.md gives its code (KeyError for an unknown code)."""
    return Finding(code=code, severity=FINDING_SEVERITY[code], message=message, remedy=remedy)
