"""The full fault harness: ``python benchmarks/fault_harness.py [--trials 20] [--components ...]``.

In rounds, SIGKILLs each component (CDC consumer, current-state apply, landing loader, Thrift
server, Kafka Connect, Kafka broker, PostgreSQL) at random moments under a running workload and
file arrivals, then reconciles everything; see ``lakehouse/faults.py``. Needs the stack up
(``make start``); about five minutes a round.
"""

from __future__ import annotations

import sys

from lakehouse.faults import main

if __name__ == "__main__":
    sys.exit(main())
