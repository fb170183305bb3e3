"""Simulated chargers: for tests, benchmarks, demos and `csms simulate`."""
