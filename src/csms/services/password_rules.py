"""What a new password must be: long enough, not the username, not one of the most common passwords.

The common passwords are the 30,000 most frequent of a large corpus of leaked ones, as the zxcvbn
library ships them (compared without regard to case): the first words a guesser tries.
"""

from __future__ import annotations

from zxcvbn.matching import RANKED_DICTIONARIES

from csms.services.errors import InvalidInput

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
_COMMON_PASSWORDS: dict[str, int] = RANKED_DICTIONARIES["passwords"]


def is_common_password(password: str) -> bool:
    return password.lower() in _COMMON_PASSWORDS


def validate_password(password: str, *, username: str) -> None:
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise InvalidInput(f"a password has {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters")
    if password.lower() == username:
        raise InvalidInput("the password must differ from the username")
    if is_common_password(password):
        raise InvalidInput(
            "this password is one of the most common passwords, the first a guesser tries; choose another"
        )
