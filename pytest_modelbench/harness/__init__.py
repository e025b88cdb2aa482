"""Scripts the harness runs inside a Runner. They use the standard library only."""
