from pathlib import Path

TARGET = Path("/var/tmp/modelbench-hostile-escape.txt")


def escape() -> bool:
    try:
        TARGET.write_text("escaped")
    except OSError:
        return False
    return TARGET.read_text() == "escaped"
