"""Infrastructure shared by the API and the worker (no FastAPI)."""
