"""Agents: characters, deciding whether to answer, context from memory, streaming replies."""
