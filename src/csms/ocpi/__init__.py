"""csms as an OCPI 2.2.1 CPO: the transport (envelope, headers, tokens, routing), its HTTP client, and the modules.

Routes live under /ocpi (mount.py); each module is an `OcpiModule` (versions.py) listing its endpoints, which the
version details publish. The rules behind them are in csms/services/ (ocpi_parties.py, ...).
"""
