"""The MCP server at ``/mcp``: the scheduler as tools for agents (docs/agents.md, "MCP server")."""
