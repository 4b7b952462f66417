"""schemathesis against the durable engine's served OpenAPI document, with signed requests."""

__version__ = "0.1.0"
