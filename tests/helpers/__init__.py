"""Helpers shared by the tests (and benchmarks): real processes, repositories, clients."""
