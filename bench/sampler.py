"""A wall-clock stack sampler for where py-spy cannot attach (no ptrace in a container):
`python bench/sampler.py OUT INTERVAL_MS -m MODULE ARGS...` runs MODULE as __main__ while a
thread records the main thread's stack every INTERVAL_MS, between SIGUSR1 (start) and SIGUSR2
(stop, write OUT). OUT has py-spy's raw format: `frame;frame;... count` per line, outermost
frame first, so bench/profile.py reads either.

The sampler runs when the main thread gives up the GIL (waiting in select, or at the
interpreter's switch interval), so a sample in `select` is time spent waiting for the app or
Postgres, and the others are where the engine's own CPU went, as py-spy would see them."""

from __future__ import annotations

import runpy
import signal
import sys
import threading
from collections import Counter
from types import FrameType


def _stack(frame: FrameType | None) -> str:
    names = []
    while frame is not None:
        code = frame.f_code
        names.append(f"{code.co_name} ({code.co_filename}:{frame.f_lineno})")
        frame = frame.f_back
    return ";".join(reversed(names))


def main() -> None:
    out, interval = sys.argv[1], float(sys.argv[2]) / 1000
    if sys.argv[3] != "-m":
        raise SystemExit("usage: sampler.py OUT INTERVAL_MS -m MODULE ARGS...")
    module = sys.argv[4]
    sys.argv = [module, *sys.argv[5:]]
    main_id = threading.main_thread().ident
    counts: Counter[str] = Counter()
    on = threading.Event()

    def sample() -> None:
        while True:
            on.wait()
            frame = sys._current_frames().get(main_id or 0)
            counts[_stack(frame)] += 1
            threading.Event().wait(interval)

    def start(*_: object) -> None:
        counts.clear()
        on.set()

    def stop(*_: object) -> None:
        on.clear()
        with open(out, "w") as file:
            for stack, n in counts.items():
                file.write(f"{stack} {n}\n")

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    threading.Thread(target=sample, daemon=True).start()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
