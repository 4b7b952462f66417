"""The engine's pure core: a run's state machine, admission decisions, the invocation codec
and the manifest, as functions of plain values. Nothing here does I/O (no socket, no
database, no clock): the store and the worker feed it values and act on its answers, and
reference/tests/core tests it without Postgres."""
