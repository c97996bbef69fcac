"""Load benchmark for Relaygate: mock upstream (nginx), gateway on one core, wrk on the other.

Run with ``make bench`` or ``python -m bench.run --help``; see docs/benchmarks.md.
"""
