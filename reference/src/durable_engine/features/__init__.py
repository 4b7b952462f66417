"""Protocol 1.1 features (wire-protocol §19), one module each, called by the engine core."""
