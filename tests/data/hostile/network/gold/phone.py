import socket
from pathlib import Path


def phone_home() -> bool:
    port = int(Path(__file__).with_name("port.txt").read_text())
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as conn:
            conn.sendall(b"hello from the sandbox")
        return True
    except OSError:
        return False
