"""A 250 MiB line on the result channel (with the right nonce) and 100 MiB on stdout."""
import os
import sys


def row_major_strides(shape):
    frame = sys._getframe()
    while frame is not None and "results_fd" not in frame.f_locals:
        frame = frame.f_back
    if frame is not None:
        fd, nonce = frame.f_locals["results_fd"], frame.f_locals["nonce"]
        chunk = b'"' + b"x" * (2**20)
        os.write(fd, nonce + b' {"case": "row_major_strides/scalar-and-vector", "status": "ok", "output": ')
        for _ in range(250):
            os.write(fd, chunk)
        os.write(fd, b'"}\n')
    for _ in range(100):
        sys.stdout.write("y" * 2**20)
    return []
