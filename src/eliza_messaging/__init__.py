"""eliza-messaging: the real-time messaging server of the ElizaOS agent platform."""

__version__ = "0.1.0"
