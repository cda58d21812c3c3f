"""Shared helpers for the benchmark scripts in bench/ (stdlib only).

Nothing here asserts on timings: the scripts measure, print markdown tables and
write JSON; interpreting the numbers is left to the reader.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / ".bench"  # git-ignored scratch space (peers, corpus, copies)
PEERS_VENV = BENCH_DIR / "peers-venv"
DOLOS_DIR = BENCH_DIR / "dolos"


def find_shared_bench() -> Path:
    """Locate shared/bench (corpus.py and the peer drivers)."""
    env = os.environ.get("CODEGUARD_SHARED_BENCH")
    candidates = [Path(env)] if env else []
    candidates += [
        Path("/work/shared/bench"),
        REPO.parent / "shared" / "bench",
        REPO / "shared" / "bench",
    ]
    for cand in candidates:
        if (cand / "corpus.py").is_file():
            return cand
    sys.exit("shared/bench/corpus.py not found; set CODEGUARD_SHARED_BENCH")


def codeguard_cmd() -> list[str]:
    """Command prefix that runs the codeguard CLI of this checkout."""
    env = os.environ.get("CODEGUARD")
    if env:
        return env.split()
    exe = REPO / ".venv" / "bin" / "codeguard"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("codeguard")
    if found:
        return [found]
    py = REPO / ".venv" / "bin" / "python"
    return [str(py if py.exists() else sys.executable), "-m", "codeguard"]


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def stdlib_py_tree(dest: Path | None = None) -> Path:
    """Copy the installed stdlib's *.py files (site-packages excluded) to *dest*.

    All tools read this one tree, so they see exactly the same input and no tool
    wanders into site-packages (copydetect's rglob and the Dolos driver would).
    Relative paths are kept, so 'json/encoder.py' still names the module.
    The copy is reused when its file list and sizes match the installed stdlib.
    """
    src = stdlib_dir()
    dest = dest or BENCH_DIR / "stdlib"
    wanted: dict[str, int] = {}
    for root, dirs, files in os.walk(src):
        rel = os.path.relpath(root, src)
        if rel == ".":
            dirs[:] = [d for d in dirs if d != "site-packages"]
        dirs.sort()
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                wanted[os.path.normpath(os.path.join(rel, name))] = os.path.getsize(path)
    have: dict[str, int] = {}
    if dest.is_dir():
        for root, _dirs, files in os.walk(dest):
            for name in files:
                path = os.path.join(root, name)
                have[os.path.relpath(path, dest)] = os.path.getsize(path)
    if have != wanted:
        if dest.exists():
            shutil.rmtree(dest)
        for rel in sorted(wanted):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, dest / rel)
    return dest


def tree_stats(root: Path) -> dict[str, int]:
    files = lines = nbytes = 0
    for path in root.rglob("*.py"):
        files += 1
        data = path.read_bytes()
        nbytes += len(data)
        lines += data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    return {"files": files, "lines": lines, "bytes": nbytes}


def _group_rss_kb(pgid: int) -> int:
    """Sum of VmRSS over the live processes of process group *pgid* (Linux /proc)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
            fields = stat[stat.rindex(b")") + 2 :].split()
            if int(fields[2]) != pgid:  # after "(comm)": state ppid pgrp ...
                continue
            with open(f"/proc/{entry.name}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"VmRSS:"):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue
    return total


@dataclass
class RunResult:
    cmd: list[str]
    rc: int | None
    wall_s: float
    peak_rss_kb: int  # max RSS of the child and its waited-for descendants
    # user + system CPU time of the child and its waited-for descendants (git, workers): less
    # sensitive than wall time to other jobs on a shared machine
    cpu_s: float = 0.0
    # max over time of the summed RSS of the child's process group, sampled every 0.1 s
    # (counts shared pages once per process, so it can overstate forked workers)
    peak_tree_rss_kb: int = 0
    timed_out: bool = False
    limit_s: float | None = None
    stdout: str = ""
    stderr_tail: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["stdout"] = data["stdout"][-4000:]
        return data


def run_measured(
    cmd: list[str],
    *,
    timeout: float | None = None,
    cwd: Path | None = None,
    env: dict | None = None,
    capture_stdout: bool = True,
    sample_tree: bool = True,
) -> RunResult:
    """Run *cmd*; return wall time and the child's own peak RSS (via wait4).

    os.wait4 gives the rusage of that one child (Linux folds in the peak of its
    reaped descendants), unlike RUSAGE_CHILDREN, which is a running maximum over
    every child this process ever had.  That is the peak of the largest single
    process; for tools with worker processes, peak_tree_rss_kb also samples the
    summed RSS of the whole process group.  On timeout the whole process group is
    killed and timed_out is set.
    """
    out_path = BENCH_DIR / "tmp" / f"run-{os.getpid()}-{time.monotonic_ns()}"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(out_path.with_suffix(".out"), "w+b") as out,
        open(out_path.with_suffix(".err"), "w+b") as err,
    ):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out if capture_stdout else subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
        timed_out = False
        deadline = None if timeout is None else t0 + timeout
        tree_peak = 0
        next_sample = 0.0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            now = time.perf_counter()
            if sample_tree and now >= next_sample:
                tree_peak = max(tree_peak, _group_rss_kb(proc.pid))
                next_sample = now + 0.1
            if deadline is not None and now > deadline:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    for suffix in (".out", ".err"):
        out_path.with_suffix(suffix).unlink(missing_ok=True)
    return RunResult(
        cmd=[str(c) for c in cmd],
        rc=proc.returncode,
        wall_s=round(wall, 3),
        peak_rss_kb=int(usage.ru_maxrss),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 3),
        peak_tree_rss_kb=max(tree_peak, int(usage.ru_maxrss)),
        timed_out=timed_out,
        limit_s=timeout,
        stdout=stdout,
        stderr_tail=stderr[-2000:],
    )


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_s(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def fmt_mb(kb: float | None) -> str:
    return "—" if kb is None else f"{kb / 1024:.0f} MB"


def markdown_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


def machine_info() -> dict:
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    try:
        with open("/proc/meminfo") as fh:
            info["mem_total_kb"] = int(fh.readline().split()[1])
    except OSError:
        pass
    return info


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    print(f"\nresults written to {path}")


def run_cmd(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run ``cmd``; return its wall seconds and the completed process (exit on failure)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        sys.exit(f"command failed (exit {proc.returncode}): {' '.join(cmd)}")
    return wall, proc


def norm_path(path: str, scan_dir: Path) -> str:
    """A finding's path relative to the scanned directory (given absolute or relative to it)."""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.resolve().relative_to(scan_dir.resolve()).as_posix()
    except ValueError:
        return p.as_posix()
