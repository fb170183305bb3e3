"""Errors the business rules raise; the transports translate them into HTTP answers or CallErrors."""

from __future__ import annotations


class DomainError(Exception):
    """A request that the rules refuse. The message is safe to show to the caller."""


class NotFound(DomainError):
    pass


class AlreadyExists(DomainError):
    pass


class InvalidInput(DomainError):
    pass


class PermissionDenied(DomainError):
    pass


class Conflict(DomainError):
    """The request clashes with the current state (already stopped, already in progress)."""


class PayloadTooLarge(DomainError):
    """An upload larger than its limit."""
