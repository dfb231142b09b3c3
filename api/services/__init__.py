"""Service functions: what routes call; they keep the index and Temporal in step."""
