"""Business rules shared by the OCPP handlers and the REST API: plain async functions."""
