"""The domain: joining, sending, presence and typing, with validation and clear errors."""
