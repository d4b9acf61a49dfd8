"""Handing each new message to each agent exactly once."""
