"""csms: a Charging Station Management System speaking OCPP 1.6J to chargers and REST to apps."""

__version__ = "0.1.0"
