"""Test utilities shipped with pytest-modelbench (a loopback OpenAI-compatible server)."""
