"""Conformance suite for the durable wire protocol.

One runner (`python -m durable_conformance run <target>`) starts an implementation
through its harness (`conformance/harnesses/<target>.json`), drives it with the spec's
vectors over real HTTP, and writes a compliance matrix to `conformance/reports/`.
"""

HARNESS_PROTOCOL = 1
__version__ = "0.1.0"
