"""py-spy helpers: attach to the gateway during a load run and summarise the samples.

``summarise(raw)`` reads py-spy's collapsed ("raw") output and lists the functions with the
most self samples and the most inclusive samples, with relaygate frames marked.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.common import LOAD_CORE

_LINENO = re.compile(r":\d+\)$")


def pyspy() -> str | None:
    exe = Path(sys.executable).parent / "py-spy"
    return str(exe) if exe.exists() else shutil.which("py-spy")


def record_argv(pid: int, seconds: int, out: Path, fmt: str = "raw") -> list[str]:
    exe = pyspy()
    if exe is None:
        raise RuntimeError("py-spy is not installed (.venv/bin/pip install py-spy)")
    return [
        "taskset", "-c", LOAD_CORE, exe, "record", "--pid", str(pid),
        "--duration", str(seconds), "--rate", "250", "--nonblocking",
        "--format", fmt, "--output", str(out),
    ]  # fmt: skip


def _frame(name: str) -> str:
    # "func (path/file.py:123)" -> "func (path/file.py)": aggregate by function
    return _LINENO.sub(")", name)


def summarise(raw: Path, top: int = 25) -> str:
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += n
        self_c[frames[-1]] += n
        for fr in set(frames):
            incl[fr] += n
    if not total:
        return "no samples\n"
    out = [f"{total} samples (all threads, idle excluded)", "", "## top self time", ""]
    out += [f"{n / total:6.1%}  {fr}" for fr, n in self_c.most_common(top)]
    out += ["", "## top inclusive time, relaygate frames", ""]
    ours = [(fr, n) for fr, n in incl.most_common() if "relaygate" in fr]
    out += [f"{n / total:6.1%}  {fr}" for fr, n in ours[:top]]
    out += ["", "## top inclusive time, all frames", ""]
    out += [f"{n / total:6.1%}  {fr}" for fr, n in incl.most_common(top)]
    return "\n".join(out) + "\n"


def run_record(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        record_argv(pid, seconds, out),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


if __name__ == "__main__":
    print(summarise(Path(sys.argv[1])))
