"""capture-tls: which certificate a MySQL server presented, read from packet captures."""

__version__ = "0.1.0"

__all__ = ["__version__"]
