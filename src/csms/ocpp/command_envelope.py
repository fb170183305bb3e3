"""What a command to a charger carries across the bus, and how a node knows another csms node sent it.

Anyone who can publish on NATS could otherwise command every charger (a Hard Reset, a lower
SecurityProfile, a new AuthorizationKey). NATS credentials and per-subject permissions keep strangers
off the bus; on top of them every command is sealed with an HMAC-SHA256 under the cluster secret
(`CSMS_BUS_SECRET`, by default derived from `CSMS_JWT_SECRET`, which every node already shares), over
the subject and every field, so a command cannot be forged, altered, or replayed to another charger.

Freshness comes from the deadline: an absolute time in the cluster clock (the database's, see
`csms.db.cluster_clock`), set by the node that asks. The node holding the socket never sends a
command once its deadline has passed (it was held up on the way: a link that dropped traffic and
came back), refuses one whose deadline lies further ahead than any call timeout allows (a forgery or
a node far off the cluster clock), and remembers the ids of the commands it opened until their
deadline, so a captured command replayed within its lifetime is refused too. Answers are sealed the
same way, bound to the command they answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from csms.bus import Message

# Who asked for the command being sent: set by the API for the logged-in caller; "csms" for csms's own calls.
REQUESTED_BY: ContextVar[str] = ContextVar("command_requested_by", default="csms")

# Security event kinds of commands a node refused to open.
UNAUTHENTICATED = "bus_command_unauthenticated"
IMPLAUSIBLE_DEADLINE = "bus_command_implausible_deadline"
REPLAYED = "bus_command_replayed"

_SIGNATURE = "signature"
# How many opened command ids are kept before the expired ones are forgotten.
_PURGE_EVERY = 256


@dataclass(frozen=True, slots=True)
class Command:
    command_id: str
    action: str
    payload: dict[str, Any]
    deadline: float  # seconds since the epoch, in the cluster clock
    origin_node: str
    requested_by: str


class EnvelopeRefused(Exception):
    """A message that is not a command from a csms node, or not any more; `kind` is its security event."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def derive_secret(secret: str) -> bytes:
    """The key commands are sealed with, from the configured cluster secret."""
    return hmac.new(secret.encode(), b"csms bus commands v1", hashlib.sha256).digest()


def new_command_id() -> str:
    return secrets.token_hex(16)


class CommandSeal:
    """Seals commands and answers this node sends, and opens those it receives."""

    def __init__(self, key: bytes, *, clock: Callable[[], float], max_lifetime: float) -> None:
        self._key = key
        self._clock = clock
        self._max_lifetime = max_lifetime
        self._opened: dict[str, float] = {}  # command id -> its deadline

    def now(self) -> float:
        """The cluster clock deadlines are set and checked in."""
        return self._clock()

    def seal(self, subject: str, command: Command) -> Message:
        message: Message = {
            "command_id": command.command_id,
            "action": command.action,
            "payload": command.payload,
            "deadline": command.deadline,
            "origin_node": command.origin_node,
            "requested_by": command.requested_by,
        }
        message[_SIGNATURE] = self._sign({**message, "subject": subject})
        return message

    def open(self, subject: str, message: Message) -> Command:
        """The command in `message`, or EnvelopeRefused; an expired command opens (the caller drops it)."""
        if not self._is_signed(message, subject=subject):
            raise EnvelopeRefused(UNAUTHENTICATED, "the command is not signed with the cluster secret")
        command = Command(
            command_id=str(message["command_id"]),
            action=str(message["action"]),
            payload=dict(message["payload"]),
            deadline=float(message["deadline"]),
            origin_node=str(message["origin_node"]),
            requested_by=str(message["requested_by"]),
        )
        now = self._clock()
        if command.deadline - now > self._max_lifetime:
            raise EnvelopeRefused(
                IMPLAUSIBLE_DEADLINE,
                f"the command's deadline is {command.deadline - now:.0f} s ahead, beyond any call timeout",
            )
        self._remember(command, now=now)
        return command

    def seal_reply(self, command_id: str, reply: Message) -> Message:
        sealed = dict(reply)
        sealed[_SIGNATURE] = self._sign({**reply, "reply_to": command_id})
        return sealed

    def open_reply(self, command_id: str, reply: Message) -> Message:
        """The answer to command `command_id`, or EnvelopeRefused if no csms node sealed it for that command."""
        if not self._is_signed(reply, reply_to=command_id):
            raise EnvelopeRefused(UNAUTHENTICATED, "the answer is not signed with the cluster secret")
        return {key: value for key, value in reply.items() if key != _SIGNATURE}

    def _remember(self, command: Command, *, now: float) -> None:
        if command.command_id in self._opened:
            raise EnvelopeRefused(REPLAYED, f"command {command.command_id} was received before")
        if len(self._opened) % _PURGE_EVERY == _PURGE_EVERY - 1:
            self._opened = {key: deadline for key, deadline in self._opened.items() if deadline >= now}
        self._opened[command.command_id] = command.deadline

    def _is_signed(self, message: Message, **bound_to: str) -> bool:
        signature = message.get(_SIGNATURE)
        if not isinstance(signature, str):
            return False
        unsigned = {key: value for key, value in message.items() if key != _SIGNATURE}
        try:
            # What it is bound to comes last: a field of the same name in the message cannot override it.
            expected = self._sign({**unsigned, **bound_to})
        except (TypeError, ValueError):
            return False
        return hmac.compare_digest(signature, expected)

    def _sign(self, fields: Message) -> str:
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
        return hmac.new(self._key, canonical.encode(), hashlib.sha256).hexdigest()
