"""Calls made ahead of their items, so that calls in flight are bounded by the provider's limit, not by -n.

An xdist worker replays one item at a time, so without this a run had at most ``-n`` calls in flight whatever
``--max-concurrency`` allowed. The controller knows the items that will run (after ``-k``, ``--lf``, deselection,
shards and resume) and, for the replays whose requests do not depend on anything the candidate's code does
(zero-shot answers, and the first answer of an iterative replay), hands the door one :class:`Chain` per item, in
plan order (under xdist from the plan itself, before any worker has collected, when nothing but collection could
deselect an item; the first worker's collection then confirms the list, :meth:`Ahead.restrict`). The door makes
those calls on threads of its own, as many per provider as its limit, through the same path as any call (cache,
budget reservation, limits, retries). Each call's future is registered under the call's
cache key *before* it starts, so the worker's replay, which sends the very same request later, waits for it and
gets its outcome instead of making a second call (:meth:`Ahead.claim`). The worker still applies the answer, runs
the check and scores: model-written code never runs in the controller, which only talks to the model.

Pure (no pytest, no litellm: the door it is given makes the calls).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Collection, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_modelbench.models.providers import provider_of

if TYPE_CHECKING:
    from pytest_modelbench.models.door import Door, PreparedCall

# A future resolves to the call's outcome (the door's reply), or to None when it was dropped before it started.
Answer = dict[str, Any] | None


@dataclass(frozen=True)
class Chain:
    """One item's calls: the first request's messages, then one more call per follow-up user turn (each sent with
    the conversation so far, as the zero-shot replay sends it)."""

    item: str
    model: str
    repeat: int
    messages: tuple[dict[str, Any], ...]
    turns: tuple[str, ...] = ()


def request_for(model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                max_tokens: int | None = None, repeat: int = 0) -> dict[str, Any]:
    """The ``complete`` request a worker's :class:`~.client.ModelClient` sends: built in one place, so a call made
    ahead and the worker's request have the same cache key."""
    request: dict[str, Any] = {"op": "complete", "model": model, "messages": messages, "tools": tools,
                               "max_tokens": max_tokens}
    if repeat:
        request["repeat"] = repeat
    return request


class Ahead:
    """The door's calls made ahead: per provider a queue of chains in plan order, drained by as many threads as the
    provider's limit; thread-safe."""

    def __init__(self, door: Door) -> None:
        self.door = door
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified whenever a call made ahead is answered
        self._running = 0
        self._claims: dict[str, deque[Future[Answer]]] = {}
        self._queues: dict[str, deque[tuple[Chain, PreparedCall, Future[Answer]]]] = {}
        self._started = False
        self._stopped = False
        self._items: set[str] = set()  # the items whose calls were queued
        self._excluded: set[str] = set()  # of those, the ones found not to run after all (restrict)
        self.calls = 0  # calls made ahead (answered, successfully or not)
        self.used = 0  # of those, taken by their item's replay
        self.dropped = 0  # queued calls never started (the run ended or was interrupted first)
        self.unused = 0  # calls answered ahead that no item took (counted when the run stops)

    @property
    def started(self) -> bool:
        return self._started

    def start(self, chains: Sequence[Chain]) -> int:
        """Queue ``chains`` (once per run; later calls do nothing) and start the threads; the number queued."""
        with self._lock:
            if self._started or self._stopped:
                return 0
            self._started = True
            for chain in chains:
                call = self.door.prepare(request_for(chain.model, list(chain.messages), repeat=chain.repeat))
                if isinstance(call, dict):
                    continue  # refused outright (a cloud model not allowed): the item's own request says so
                future = self._register(call.key)
                self._queues.setdefault(provider_of(chain.model), deque()).append((chain, call, future))
                self._items.add(chain.item)
            queued = {p: len(q) for p, q in self._queues.items()}
        for provider, n in queued.items():
            for i in range(min(self.door.limit(provider), n)):
                threading.Thread(target=self._drain, args=(provider,), daemon=True,
                                 name=f"modelbench-ahead-{provider}-{i}").start()
        return sum(queued.values())

    def restrict(self, items: Collection[str]) -> int:
        """Only ``items`` will run (their node ids, as collected): the queued calls of any other item are dropped
        and their later turns never start (a call already on the wire finishes; unused, it is counted so). Returns
        the number of queued calls dropped."""
        keep = set(items)
        dropped: list[Future[Answer]] = []
        with self._lock:
            self._excluded |= self._items - keep
            for provider, queue in self._queues.items():
                kept = deque(entry for entry in queue if entry[0].item in keep)
                dropped += [future for chain, _, future in queue if chain.item not in keep]
                self._queues[provider] = kept
            self.dropped += len(dropped)
            self._idle.notify_all()
        for future in dropped:
            future.set_result(None)
        return len(dropped)

    def claim(self, key: str) -> dict[str, Any] | None:
        """The outcome of a call made (or being made, or queued) ahead with this key, waiting for it; None when
        there is none, or it was dropped: the caller then makes the call itself."""
        with self._lock:
            queue = self._claims.get(key)
            if not queue:
                return None
            future = queue.popleft()
            if not queue:
                del self._claims[key]
        outcome = future.result()
        if outcome is None:
            return None
        with self._lock:
            self.used += 1
        return {**outcome, "ahead": True}

    def stop(self) -> None:
        """No more calls start; queued ones are dropped (their items, if they still run, call for themselves).
        Counts the answered calls that no item took."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            dropped = [future for queue in self._queues.values() for _, _, future in queue]
            self._queues.clear()
            self._idle.notify_all()
            self.dropped += len(dropped)
            self.unused = sum(1 for queue in self._claims.values() for f in queue
                              if f.done() and (f.result() or {}).get("ok") and not (f.result() or {}).get("cached"))
        for future in dropped:
            future.set_result(None)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no call is queued or being made ahead; whether that happened within ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0 and not any(self._queues.values()), timeout)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"items": len(self._items), "calls": self.calls, "used": self.used, "unused": self.unused,
                    "dropped": self.dropped}

    def _register(self, key: str) -> Future[Answer]:
        future: Future[Answer] = Future()
        self._claims.setdefault(key, deque()).append(future)
        return future

    def _drain(self, provider: str) -> None:
        while True:
            with self._lock:
                queue = self._queues.get(provider)
                if self._stopped or not queue:
                    return
                chain, call, future = queue.popleft()
                self._running += 1
            try:
                self._run(chain, call, future)
            finally:
                with self._idle:
                    self._running -= 1
                    self._idle.notify_all()

    def _run(self, chain: Chain, call: PreparedCall, future: Future[Answer]) -> None:
        messages = list(chain.messages)
        turns = list(chain.turns)
        while True:
            try:
                outcome: dict[str, Any] = self.door.make(call)
            except Exception as exc:  # a broken call must not leave its item waiting forever
                outcome = {"ok": False, "kind": "error", "error": f"door: {type(exc).__name__}: {exc}"}
            next_call: PreparedCall | None = None
            next_future: Future[Answer] | None = None
            with self._idle:
                self.calls += 1
                self._idle.notify_all()
                if outcome.get("ok") and turns and not self._stopped and chain.item not in self._excluded:
                    messages += [{"role": "assistant", "content": outcome["message"].get("content") or ""},
                                 {"role": "user", "content": turns.pop(0)}]
                    prepared = self.door.prepare(request_for(chain.model, list(messages), repeat=chain.repeat))
                    if not isinstance(prepared, dict):
                        # Registered before this answer is handed over: the worker's next request, sent as soon
                        # as it has the answer, must find it and wait for it rather than call a second time.
                        next_call, next_future = prepared, self._register(prepared.key)
            future.set_result(outcome)
            if next_call is None or next_future is None:
                return
            call, future = next_call, next_future


__all__ = ["Ahead", "Chain", "request_for"]
