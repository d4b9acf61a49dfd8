"""Delivering an event to a room or a socket, on every node."""
