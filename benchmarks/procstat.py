"""CPU time and peak memory of a server: its process and every descendant
(nginx's worker, granian's worker, gunicorn's), read from /proc, so that
the time spent serving can be divided by the requests served."""

from __future__ import annotations

import os

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after it.
    return data[data.rindex(")") + 2:].split()


def descendants(root: int) -> list[int]:
    """`root` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat(int(name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def cpu_seconds(root: int) -> float:
    """utime + stime of the tree, plus the time of children already reaped
    (cutime + cstime), so a worker that exits mid-run is still counted."""
    ticks = 0
    for pid in descendants(root):
        fields = _stat(pid)
        if fields is not None:
            # After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
            ticks += sum(int(v) for v in fields[11:15])
    return ticks / _TICK


def core_seconds(cpu: int | None) -> float:
    """Time core `cpu` spent running processes (user + nice + system), from
    /proc/stat; interrupt and softirq time are not included, since the
    kernel accounts them apart from processes. 0.0 when `cpu` is None."""
    if cpu is None:
        return 0.0
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                user, nice, system = (int(v) for v in line.split()[1:4])
                return (user + nice + system) / _TICK
    return 0.0


def reset_peak_rss(root: int) -> bool:
    """Start each process's peak RSS (VmHWM) afresh from its current RSS,
    by writing 5 to /proc/PID/clear_refs (proc(5), Linux 4.0), so that the
    peak read after a run is the peak of that run, not of start-up. False
    if the kernel refused for any process: the peak is then since start."""
    done = True
    for pid in descendants(root):
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        except FileNotFoundError:
            pass                    # exited meanwhile
        except OSError:
            done = False
    return done


def peak_rss_bytes(root: int) -> int:
    """The sum over the tree of each process's VmHWM (peak resident set
    size). Each process is counted at its own peak and shared pages (nginx
    master and worker, forked workers) once per process, so this is an
    upper bound of the tree's peak, the figure `ps` users add up."""
    total = 0
    for pid in descendants(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total
