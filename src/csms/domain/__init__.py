"""Version-neutral values: what csms means, before any OCPP version spells it."""
