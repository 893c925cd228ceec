"""HTTP API: FastAPI routes over the engine; errors and limits in one place each."""
