"""A decoder of .aec files that needs numpy alone (no torch, no compiled loops)."""
