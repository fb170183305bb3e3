"""The charger gateway: the OCPP 1.6J WebSocket endpoint, its handlers and outgoing commands."""
