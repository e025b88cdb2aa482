"""The run queue of ``modelbench serve``: runs started as pytest subprocesses one at a time, tracked by run id.

No pytest in this process: each run is ``python -m pytest --modelbench ...`` in the server's root folder, with a run
id chosen here (so a client knows it before pytest writes it) and its output in ``api-logs/<run id>.log`` next to
the store. A run's status merges what this server knows (queued, running, exited) with what the store says.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_modelbench.cli.runrequest import RunRequest, build_pytest_command
from pytest_modelbench.store.artifact import new_run_id

LOG_TAIL_CHARS = 2000
START_WAIT = 2.0  # seconds POST waits for the run to leave the queue before answering


@dataclass
class Job:
    """One run this server started (or will start): its command, log file and state."""

    run_id: str
    command: list[str]
    log: Path
    state: str = "queued"  # queued | running | exited
    returncode: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    left_queue: threading.Event = field(default_factory=threading.Event, repr=False)


class RunManager:
    """Starts runs as pytest subprocesses, one at a time, in ``root`` against ``store``; tracks them by run id."""

    def __init__(self, store: Path, root: Path, python: str = sys.executable) -> None:
        self.store = store
        self.root = root
        self.python = python
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._slot = threading.Semaphore(1)
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, request: RunRequest) -> Job:
        run_id = new_run_id()
        with self._lock:
            while run_id in self.jobs:
                run_id = new_run_id()
            log = self.store.parent / "api-logs" / f"{run_id}.log"
            job = Job(run_id, build_pytest_command(request, python=self.python, store=self.store, run_id=run_id),
                      log)
            self.jobs[run_id] = job
        thread = threading.Thread(target=self._run, args=(job,), name=f"modelbench-run-{run_id}", daemon=True)
        self._threads.append(thread)
        thread.start()
        # Answer "running" when the run starts at once; a run waiting behind another is answered "queued".
        job.left_queue.wait(START_WAIT)
        return job

    def _run(self, job: Job) -> None:
        with self._slot:
            if self._closing.is_set():
                job.state, job.returncode = "exited", None
                job.left_queue.set()
                return
            job.log.parent.mkdir(parents=True, exist_ok=True)
            with job.log.open("wb") as out:
                try:
                    process = subprocess.Popen(job.command, cwd=self.root, stdout=out, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL)
                except OSError as exc:
                    out.write(f"cannot start pytest: {exc}\n".encode())
                    job.state, job.returncode = "exited", None
                    job.left_queue.set()
                    return
                with self._lock:
                    job.process, job.state = process, "running"
                job.left_queue.set()
                job.returncode = process.wait()
                job.state = "exited"

    def close(self, timeout: float = 10.0) -> None:
        """Stop: runs still waiting never start; a running pytest is interrupted (it still writes its artifact)."""
        import signal

        self._closing.set()
        for job in list(self.jobs.values()):
            if job.state == "running" and job.process is not None and job.process.poll() is None:
                job.process.send_signal(signal.SIGINT)
        for thread in self._threads:
            thread.join(timeout)
        for job in list(self.jobs.values()):
            if job.process is not None and job.process.poll() is None:
                job.process.kill()
                job.process.wait()

    def status(self, run_id: str) -> dict[str, Any] | None:
        """The run's status document, or None when neither this server nor the store knows it."""
        from pytest_modelbench.analysis.leaderboard import model_rows
        from pytest_modelbench.store.sqlite import Store

        job = self.jobs.get(run_id)
        row = None
        outcomes = []
        if self.store.is_file():
            store = Store(self.store)
            try:
                row = store.run(run_id)
                if row is not None and row["status"] == "complete":
                    outcomes = store.outcome_records(run_id)
            finally:
                store.close()
        if row is None and job is None:
            return None
        doc: dict[str, Any] = {"id": run_id}
        if row is not None:
            status = row["status"]
            if job is not None and job.state != "exited" and status != "running":
                # The store says done before pytest has written the artifact and exited: not done for the client.
                status = "running"
            if status == "running" and job is not None and job.state == "exited":
                status = "failed"  # pytest ended without finishing the run (killed, crashed)
            models = json.loads(row["candidate_models_json"])
            doc.update(status=status, name=row["name"], models=models, rubric_version=row["rubric_version"],
                       sessions=len(json.loads(row["source_session_ids_json"])), created_ts=row["created_ts"],
                       completed_ts=row["completed_ts"], total_cost_usd=row["total_cost_usd"])
            if status == "complete":
                doc["leaderboard"] = [r.to_dict() for r in model_rows(outcomes, models)]
        else:
            assert job is not None
            # pytest has not created the run yet (queued, starting), or it stopped before it could (a usage error).
            doc["status"] = {"queued": "queued", "running": "running"}.get(job.state, "failed")
        if job is not None:
            doc["exit_code"] = job.returncode
            doc["command"] = job.command
            if doc["status"] == "failed":
                doc["error"] = _tail(job.log)
        return doc


def _tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return text[-LOG_TAIL_CHARS:]


__all__ = ["Job", "RunManager"]
