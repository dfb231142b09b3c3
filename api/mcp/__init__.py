"""The MCP server at ``/mcp``: the scheduler as tools for agents (issue 13)."""
