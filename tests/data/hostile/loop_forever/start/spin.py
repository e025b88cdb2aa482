def spin() -> int:
    return 0
