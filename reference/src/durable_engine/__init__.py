"""durable reference engine: durable workflows on one Postgres."""

__version__ = "0.1.0"
