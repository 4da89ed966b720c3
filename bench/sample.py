"""A sampling profiler of a server's main thread (its event loop), from the standard library only.

    python bench/sample.py OUT MODULE [ARGS...]

Runs `python -m MODULE ARGS...` with a CPU-time interval timer (SIGPROF every millisecond of the
process's CPU time). Each signal notes the main thread's stack, weighted by the main thread's own
CPU time since the signal before, so CPU used by other threads (the SQLite one) weighs nothing
here. At exit (SIGINT, or the module returning) it writes OUT.txt, the functions with the most
main-thread CPU, by their own time and including what they call, and OUT.folded, the stacks in
the collapsed form flame graph tools read. Time in the event loop's own C code (uvloop: sockets,
epoll) shows as the frame that runs the loop.
"""

from __future__ import annotations

import runpy
import signal
import sys
import time
from collections import defaultdict
from pathlib import Path
from types import FrameType

INTERVAL_SECONDS = 0.001
TOP = 45


def where(frame: FrameType) -> str:
    code = frame.f_code
    path = code.co_filename
    short = path.split("site-packages/")[-1].split("/lib/python3")[-1].removeprefix(str(Path.cwd()) + "/")
    return f"{short}:{code.co_firstlineno}({code.co_name})"


class Sampler:
    def __init__(self) -> None:
        self.stacks: dict[tuple[str, ...], float] = defaultdict(float)
        self.last = time.thread_time()

    def start(self) -> None:
        signal.signal(signal.SIGPROF, self.sample)
        signal.setitimer(signal.ITIMER_PROF, INTERVAL_SECONDS, INTERVAL_SECONDS)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0)

    def sample(self, signum: int, frame: FrameType | None) -> None:
        now = time.thread_time()  # Python runs signal handlers in the main thread
        weight, self.last = now - self.last, now
        stack = []
        while frame is not None:
            stack.append(where(frame))
            frame = frame.f_back
        self.stacks[tuple(reversed(stack))] += weight

    def write(self, out: Path) -> None:
        busy = sum(self.stacks.values())
        own: dict[str, float] = defaultdict(float)
        inclusive: dict[str, float] = defaultdict(float)
        for stack, count in self.stacks.items():
            own[stack[-1]] += count
            for name in set(stack):
                inclusive[name] += count
        lines = [f"{busy:.2f} s of main-thread CPU time sampled", ""]
        for title, counts in (("own", own), ("including callees", inclusive)):
            lines += [f"{'%':>6}  {title}"]
            top = sorted(counts.items(), key=lambda item: item[1], reverse=True)[:TOP]
            lines += [f"{100 * n / busy:6.1f}  {name}" for name, n in top]
            lines.append("")
        out.with_suffix(".txt").write_text("\n".join(lines))
        folded = [";".join(stack) + f" {round(seconds * 1e6)}" for stack, seconds in self.stacks.items()]
        out.with_suffix(".folded").write_text("\n".join(folded) + "\n")


def main() -> None:
    out, module = Path(sys.argv[1]), sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    sampler = Sampler()
    sampler.start()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        sampler.stop()
        sampler.write(out)


if __name__ == "__main__":
    main()
