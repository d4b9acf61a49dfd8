"""REST routes, ElizaOS shapes: ``{success: true, data}`` or ``{success: false, error}``."""
