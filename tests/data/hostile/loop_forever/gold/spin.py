import subprocess
import sys

# A child that would outlive its parent if only the parent were killed.
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)  # modelbench-hostile-sleeper"])


def spin() -> int:
    while True:
        pass
