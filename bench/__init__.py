"""The benchmark suite (bench/run.py): this server against a bare Node socket.io server."""
