"""The machine a benchmark runs on: its CPU, how busy each core is, and whether others are using it.

The benchmark machine is shared; a test suite running beside a measurement takes a core from it. Every
benchmark records the load it started under, and `wait_until_quiet` lets it wait for other suites first.
"""

from __future__ import annotations

import gc
import os
import platform
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

# Processes that mean someone else is measuring or testing on this machine.
_BUSY_PATTERNS = ("pytest", "ocpp_load.py", "remote_start.py", "scale_out.py", "site_load.py")


def freeze_heap() -> None:
    """Keep a load generator's own garbage collector out of the latencies it measures.

    Once its chargers are connected, their million-odd objects would be rescanned by every full
    collection of the generator's process: pauses of a few hundred ms, in which no answer is read and
    every call in flight looks slow (seen as a regular bad second in `ocpp_load.py --timeline`). They
    live until the end of the run, so they are moved out of the collector's sight.
    """
    gc.collect()
    gc.freeze()


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def core_times(core: int) -> tuple[int, int]:
    """(busy, total) jiffies of one core from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            values = [int(value) for value in line.split()[1:]]
            idle = values[3] + values[4]  # idle and iowait
            return sum(values) - idle, sum(values)
    raise RuntimeError(f"no cpu{core} in /proc/stat")


def busy_fraction(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total else 0.0


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process (utime and stime, the 12th and 13th fields after its name)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def other_work() -> list[str]:
    """Command lines of test suites and benchmarks running on this machine, other than this process."""
    found = subprocess.run(["pgrep", "-af", "|".join(_BUSY_PATTERNS)], capture_output=True, text=True, check=False)
    mine = {os.getpid(), os.getppid()}
    return [line for line in found.stdout.splitlines() if line and int(line.split()[0]) not in mine]


def wait_until_quiet(*, timeout: float, poll: float = 30.0) -> dict[str, Any]:
    """Wait (at most `timeout` s) until no other suite runs; the load seen at the start of the run."""
    deadline = time.monotonic() + timeout
    waited = 0.0
    while (busy := other_work()) and time.monotonic() < deadline:
        print(f"machine busy ({len(busy)} processes: {busy[0][:80]}); waiting {poll:.0f} s", flush=True)
        time.sleep(poll)
        waited += poll
    return {
        "load_average": os.getloadavg(),
        "waited_s": waited,
        "other_work_at_start": [line[:120] for line in busy],
    }


def describe() -> dict[str, Any]:
    return {"nproc": os.cpu_count(), "cpu": cpu_model(), "python": platform.python_version()}


def raise_open_file_limit() -> int:
    """Lift this process's open-file limit to its hard limit (a load generator holds one socket per charger);
    the new limit, which the csms it starts inherits."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = hard if hard != resource.RLIM_INFINITY else 65_536
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    return limit
