"""The one door to the models.

``door.py`` is the only module that imports litellm (lazily, with ``LITELLM_LOCAL_MODEL_COST_MAP=True`` set first).
It lives in one **broker** per run (``broker.py``), a thread of the controller process that every xdist worker
reaches over a Unix socket: so litellm is imported once per run (~3 s CPU, ~165 MB), and the budget ledger, the
response cache and the per-provider concurrency limits are global by construction. The other modules here are pure.
This module imports nothing: the option table reads :data:`CACHE_MODES` while ``--modelbench`` is off.
"""

CACHE_MODES = ("off", "read", "write", "readwrite")  # --modelbench-cache: the door's response cache
