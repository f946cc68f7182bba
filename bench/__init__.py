"""Benchmark tools for capture-tls: a capture generator and a runner against tshark.

Not part of the installed package; see bench/README.md.
"""
