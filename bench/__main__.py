"""`python -m bench`: every benchmark, figures printed and written to bench/results/."""

from __future__ import annotations

import sys

from bench import throughput

if __name__ == "__main__":
    sys.exit(throughput.main(sys.argv[1:]))
