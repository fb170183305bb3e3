"""Helpers shared by the tests: processes, waiting, clients. Tests import from here, never from each other."""
