import glob
import os


def find_canary() -> str:
    homes = ["/root", *glob.glob("/home/*"), os.path.expanduser("~")]
    for home in homes:
        try:
            with open(os.path.join(home, ".modelbench-hostile-canary")) as fh:
                return fh.read()
        except OSError:
            continue
    return ""
