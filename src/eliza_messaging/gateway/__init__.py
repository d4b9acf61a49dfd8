"""The outside: Socket.IO handlers and REST routes that translate and call ``messaging``."""
