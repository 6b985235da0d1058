"""A separate process following activations with its own registry (for the
multi-replica test): prints ``<generation> <version>`` each time what it
serves changes, until its standard input closes."""

from __future__ import annotations

import sys
import threading
import time

from cds_hooks.rulesets.registry import RuleSetRegistry
from cds_hooks.storage.db import Database


def main() -> None:
    url, poll = sys.argv[1], float(sys.argv[2])
    registry = RuleSetRegistry(Database(url), poll_interval=poll)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    served = None
    while not done.is_set():
        snapshot = registry.current()
        ruleset = snapshot.ruleset("demo")
        version = ruleset.version if ruleset else "none"
        if version != served:
            served = version
            print(snapshot.generation, version, flush=True)
        time.sleep(0.05)


if __name__ == "__main__":
    main()
