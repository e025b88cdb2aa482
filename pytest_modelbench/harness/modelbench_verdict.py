"""pytest plugin the harness loads into every pytest check (``-p modelbench_verdict``), inside the sandbox.

It adds one **sentinel** test: a twin of a real test (same module, same class, same fixtures, a name of the same
shape) that always fails, with this run's nonce in its failure message. The harness knows its true result, so a
report that shows it passed, lacks it, or an exit status 0 next to it, is a forgery by the code under test (patched
``TestReport``, a registered ``pytest_runtest_makereport``, a rewritten JUnit file, ``os._exit(0)``...).

The sentinel's name token and the nonce come in ``MODELBENCH_SENTINEL`` (``token:nonce``). It stays in the
environment (xdist workers of a check need it, and /proc/self/environ would show it anyway): the code under test can
read it, which is one of the limits docs/verdicts.md states.
"""

from __future__ import annotations

import os
import random

import pytest

_SPEC = os.environ.get("MODELBENCH_SENTINEL", "")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _SPEC or ":" not in _SPEC:
        return
    token, nonce = _SPEC.split(":", 1)
    real = [item for item in items if isinstance(item, pytest.Function)]
    if not real:
        return  # nothing collected: the run fails on its own (and the harness does not expect a sentinel)
    rng = random.Random(nonce)
    # A twin of a test marked skip/xfail would not fail: take one without such marks when there is one.
    plain = [i for i in real if not any(m.name in ("skip", "skipif", "xfail") for m in i.iter_markers())]
    target = rng.choice(plain or real)

    def sentinel() -> None:
        raise AssertionError(f"assert {nonce!r} == {token!r}")

    twin = pytest.Function.from_parent(target.parent, name=f"{target.originalname}_{token}", callobj=sentinel)
    items.insert(rng.randrange(len(items) + 1), twin)
