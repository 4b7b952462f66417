"""Fault suite for the durable engine: a journaled workload under kill -9, app faults and a
Postgres restart, then a check that no run was lost and no step committed twice."""

__version__ = "0.1.0"
