"""Identifiers that must be unique but need not be secret: request ids, OCPP message and connection ids.

`uuid.uuid4()` reads the kernel's random source on every call, and a remote start makes two (its
request id, its OCPP message id). These come from Python's own generator instead, which the kernel
seeds once per process (and again after a fork), in the same UUID4 format: no system call per id.
Tokens and session ids, which must not be guessable, still use `uuid.uuid4()` or `secrets`.
"""

from __future__ import annotations

import random
import uuid


def unique_uuid() -> uuid.UUID:
    return uuid.UUID(int=random.getrandbits(128), version=4)
