"""A TCP proxy in front of PostgreSQL that tests cut and restore, like a network outage (see tcp_proxy)."""

from __future__ import annotations

from tests.support.tcp_proxy import CuttableProxy

__all__ = ["CuttableProxy"]
