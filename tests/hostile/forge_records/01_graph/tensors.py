import json
import os
import sys


def _worker_frame():
    """Walk up to the worker's _grade(): it holds the nonce, the result channel's fd and the cases."""
    frame = sys._getframe()
    while frame is not None and not {"nonce", "results_fd", "cases"} <= set(frame.f_locals):
        frame = frame.f_back
    return frame.f_locals


def row_major_strides(shape):
    worker = _worker_frame()
    fd, nonce = worker["results_fd"], worker["nonce"]
    forgeries = [("passed", None), ("ok", {"__ndarray__": [1], "dtype": "V999999", "shape": [1]}),
                 ("ok", [1.0, 2.0]), ("ok", []), ("ok", None)]
    for i, case in enumerate(worker["cases"]):     # each case gets a different forgery first
        for status, output in forgeries[i % 5:] + forgeries[:i % 5]:
            line = json.dumps({"case": case.key, "status": status, "output": output, "message": "", "stdout": ""})
            os.write(fd, nonce + b" " + line.encode() + b"\n")
    os.write(fd, nonce + b" " + b"[" * 200000 + b"\n")       # too deep for json: must not crash the grader
    os.write(fd, nonce + b" " + b"x" * (8 * 2**20) + b"\n")   # a flood
    return [0]
