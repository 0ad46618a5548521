"""Helpers for tests that kill a running command the way a crash or a preempted machine would."""

import socket

import psutil


def free_port() -> str:
    """A TCP port nobody listens on now (two launches at once must not share accelerate's default 29500)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


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
