"""Killable grading workers for grading.py: forked from one warm "zygote" process, killed on timeout.

Why not multiprocessing: its "fork" start method forks the caller (a threaded trainer or notebook kernel),
and "spawn"/"forkserver" re-import the caller's __main__, so a script without a __name__ guard recurses.
Instead one clean interpreter (the zygote) is started with subprocess; it imports and warms math-verify
once (verifier.setup_worker), then forks a worker per request. A worker killed on timeout is therefore
replaced in milliseconds, already warm. Workers die with the zygote, and the zygote exits when this process
closes its socket (normal exit, crash or kernel restart alike).
"""

import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import Connection, wait
from pathlib import Path

STARTUP_TIMEOUT = 300  # seconds for the zygote to import sympy/math-verify (slow on a busy machine)
_ZYGOTE_CMD = "import sys; from tina_utils.rewards.grading_pool import _zygote_main; _zygote_main(int(sys.argv[1]))"
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])  # so the zygote imports this checkout
_LOCK = threading.RLock()
_STATE = {"pid": os.getpid(), "zygote": None, "workers": [], "replaced": 0}  # zygote: (Popen, socket)


# ---------------------------------------------------------------- zygote and worker processes
def _zygote_main(fd: int) -> None:
    """Import and warm the grader, then fork one worker per byte received; exit when the socket closes."""
    from tina_utils.rewards import verifier

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a notebook interrupt is for the kernel, not its graders
    verifier.setup_worker()
    sock = socket.socket(fileno=fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished workers
    sock.sendall(b"R")
    while sock.recv(1):
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            try:
                sock.close()
                ours.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _die_with_parent()
                _serve(Connection(theirs.detach()), verifier.grade_local)
            finally:
                os._exit(0)
        theirs.close()
        socket.send_fds(sock, [pid.to_bytes(8, "little")], [ours.fileno()])
        ours.close()


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when the zygote dies (no-op elsewhere)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:
        os._exit(0)


def _serve(conn, func) -> None:
    """Worker loop: each chunk of (index, args) is answered with one (index, func(*args)) per item."""
    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        for index, args in chunk:
            conn.send((index, func(*args)))


# ---------------------------------------------------------------- parent side
class _Worker:
    """A forked worker: its pid, socket, the task indices it owes, and when its current item started."""

    def __init__(self, pid: int, conn):
        self.pid, self.conn, self.owed, self.since = pid, conn, deque(), 0.0

    def kill(self) -> None:
        """SIGKILL the worker (it may be stuck in C code) and close its socket."""
        try:
            os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.conn.close()


def _zygote():
    """The live zygote (started on first use): (Popen, socket)."""
    zygote = _STATE["zygote"]
    if zygote is not None and zygote[0].poll() is None:
        return zygote
    ours, theirs = socket.socketpair()
    path = os.pathsep.join(filter(None, [_PACKAGE_PARENT, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path)
    proc = subprocess.Popen([sys.executable, "-c", _ZYGOTE_CMD, str(theirs.fileno())], pass_fds=[theirs.fileno()],
                            env=env, stdin=subprocess.DEVNULL)
    theirs.close()
    ours.settimeout(STARTUP_TIMEOUT)
    try:
        ready = ours.recv(1)
    except OSError:
        ready = b""
    if ready != b"R":
        proc.kill()
        raise RuntimeError("the grading zygote did not start (see stderr above); "
                           "grade_many(workers=0) grades in-process instead")
    ours.settimeout(None)
    _STATE["zygote"] = (proc, ours)
    return _STATE["zygote"]


def _fork_worker() -> _Worker:
    """A new warm worker, forked by the zygote (restarted once if it died)."""
    for _ in range(2):
        sock = _zygote()[1]
        try:
            sock.sendall(b"F")
            message, fds, _, _ = socket.recv_fds(sock, 8, 1)
            if fds:
                return _Worker(int.from_bytes(message, "little"), Connection(fds[0]))
        except OSError:
            pass
        _STATE["zygote"][0].kill()
        _STATE["zygote"] = None
    raise RuntimeError("the grading zygote could not fork a worker; grade_many(workers=0) grades in-process")


def _pool(workers: int) -> list:
    """The first `workers` workers, forked lazily; a forked copy of this process starts its own pool."""
    if _STATE["pid"] != os.getpid():
        _STATE.update(pid=os.getpid(), zygote=None, workers=[])
    while len(_STATE["workers"]) < workers:
        _STATE["workers"].append(_fork_worker())
    return _STATE["workers"][:workers]


def shutdown() -> None:
    """Stop the workers and the zygote (registered at exit; the next run starts fresh ones)."""
    with _LOCK:
        if _STATE["pid"] != os.getpid():
            return
        for worker in _STATE["workers"]:
            worker.kill()
        if _STATE["zygote"] is not None:
            proc, sock = _STATE["zygote"]
            sock.close()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _STATE.update(zygote=None, workers=[])


atexit.register(shutdown)


def _replace(pool: list, worker: _Worker, pending: deque, failed: dict, why: str) -> None:
    """Fail the worker's current item, requeue the rest of its chunk, and fork a replacement."""
    if worker.owed:
        failed[worker.owed.popleft()] = why
    pending.extendleft(reversed(worker.owed))
    worker.kill()
    _STATE["replaced"] += 1
    fresh = _fork_worker()
    pool[pool.index(worker)] = fresh
    _STATE["workers"][_STATE["workers"].index(worker)] = fresh


def run(tasks: list, workers: int, timeout: float, latencies: list) -> tuple[list, dict]:
    """Results of verifier.grade_local(*task) in task order, and {index: why} for killed items."""
    results: list = [None] * len(tasks)
    failed: dict = {}
    pending = deque(range(len(tasks)))
    chunk = max(1, min(16, len(tasks) // (8 * workers)))  # consecutive tasks (same gold) share a worker
    with _LOCK:
        pool = _pool(workers)
        give_up = _STATE["replaced"] + len(tasks) + 3
        while pending or any(w.owed for w in pool):
            if _STATE["replaced"] > give_up:
                raise RuntimeError("grading workers keep dying; see the log, or use grade_many(workers=0)")
            now = time.monotonic()
            for k in range(len(pool)):
                if pool[k].owed or not pending:
                    continue
                if pool[k].conn.poll():  # an idle worker only becomes readable when it has died
                    _replace(pool, pool[k], pending, failed, "worker died")
                w = pool[k]
                batch = [pending.popleft() for _ in range(min(chunk, len(pending)))]
                w.owed.extend(batch)
                w.since = now
                try:
                    w.conn.send([(i, tasks[i]) for i in batch])
                except OSError:  # died while idle: nothing of this batch ran, so requeue all of it
                    pending.extendleft(reversed(w.owed))
                    w.owed.clear()
                    _replace(pool, w, pending, failed, "worker died")
            busy = [w for w in pool if w.owed]
            deadline = min((w.since + timeout for w in busy), default=now)
            for conn in wait([w.conn for w in busy], timeout=max(0.0, deadline - now)):
                w = next(w for w in busy if w.conn is conn)
                try:
                    while w.owed and conn.poll():
                        index, result = conn.recv()
                        done = time.monotonic()
                        results[index], latencies[index], w.since = result, done - w.since, done
                        w.owed.popleft()
                except (EOFError, OSError):
                    _replace(pool, w, pending, failed, "worker died")
            now = time.monotonic()
            for w in [w for w in pool if w.owed and now - w.since > timeout]:
                latencies[w.owed[0]] = now - w.since
                _replace(pool, w, pending, failed, f"timed out after {timeout:g} s")
    return results, failed
