"""The message-level chat simulator and what it records."""
