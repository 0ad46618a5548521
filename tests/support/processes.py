"""Helpers for tests that kill a running command the way a crash or a preempted machine would."""

import psutil


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every descendant at once (torchrun starts its workers in sessions of their own)."""
    root = psutil.Process(pid)
    everyone = [root, *root.children(recursive=True)]
    for process in everyone:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(everyone, timeout=30)
