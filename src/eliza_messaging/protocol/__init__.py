"""The wire contract of SPEC.md: message types, event names, commands and outgoing payloads."""
