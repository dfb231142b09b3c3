"""The agent-scheduler service: REST API, CLI, metadata index and Temporal plumbing."""
