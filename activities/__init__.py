"""Activities: all I/O that runs on behalf of workflows."""
