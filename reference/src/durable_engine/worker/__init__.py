"""The parts of the engine's worker, one concern per module, composed into `engine.Engine`:
base (state and types) < manifests < events < lifecycle < invoke < claims < scheduler < cron.
Each part extends the one before it, so it may call what that one defines and no more."""
