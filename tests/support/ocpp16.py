"""What OCPP-J 1.6 itself defines, written out here so tests check csms against the spec, not against csms."""

# OCPP-J 1.6 §4.2.3; the 2.0.1 spellings (FormatViolation, OccurrenceConstraintViolation) are not among them.
OCPP16_ERROR_CODES = frozenset(
    {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "TypeConstraintViolation",
        "GenericError",
    }
)
# OCPP-J 1.6 §4.1.3: the message id is at most 36 characters.
MAX_UNIQUE_ID_LENGTH = 36
