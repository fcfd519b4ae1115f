"""Real kernels for executing a graph: numpy functions keyed by op, and a call log.

Executors (yours in `run_graph`, and the bench's serial `evaluate`) compute every node
with `run_node(node, args)`. That one door lets the checks see *how* a graph ran: inside
`recording()`, each call logs (op, thread, start, end), so dependency order and real
overlap between threads can be measured.

numpy releases the GIL inside matmul and `time.sleep` releases it too, so a thread pool
really runs such kernels at the same time.
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable, Iterator

import numpy as np

from aisys.graph.ir import Graph, Node
from aisys.scheduling.costgraph import topological_order

KERNELS: dict[str, Callable[..., np.ndarray]] = {
    "matmul": lambda a, b: a @ b / max(1, np.shape(a)[-1]) if np.ndim(a) >= 2 else a * b,
    "add": lambda *xs: sum(xs[1:], xs[0]),
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "tanh": np.tanh,
    "relu": lambda a: np.maximum(a, 0.0),
    "sin": np.sin,
    "log": np.log,
    "identity": lambda a: a,
    "send": lambda a: a,     # inserted by partition: moving a value changes no value
    "recv": lambda a: a,
}

_lock = threading.Lock()
_log: list[tuple[str, int, float, float]] | None = None


def source_value(node: Node) -> np.ndarray:
    """An input's value: its `value` attr, or a seeded random array of its `shape`."""
    if "value" in node.attrs:
        return np.asarray(node.attrs["value"], dtype=np.float64)
    rng = np.random.default_rng(int(node.attrs.get("seed", 0)))
    return rng.uniform(-1.0, 1.0, size=tuple(node.attrs.get("shape", ())))


def run_node(node: Node, args: list) -> np.ndarray:
    """Compute one node from its input values (a source ignores args). Thread-safe."""
    start = time.perf_counter()
    if node.op in ("input", "param"):
        out = source_value(node)
    elif node.op == "sleep":   # a stand-in for a long kernel: holds no lock, like a GPU op
        time.sleep(float(node.attrs.get("seconds", 0.01)))
        out = args[0]
    else:
        out = KERNELS[node.op](*args)
    if _log is not None:
        with _lock:
            _log.append((node.name, threading.get_ident(), start, time.perf_counter()))
    return out


@contextlib.contextmanager
def recording() -> Iterator[list[tuple[str, int, float, float]]]:
    """Log every `run_node` call made inside the block: (op, thread id, start, end)."""
    global _log
    _log = log = []
    try:
        yield log
    finally:
        _log = None


def evaluate(graph: Graph) -> dict[str, np.ndarray]:
    """Serial execution in topological order: the reference every executor must match."""
    values: dict[str, np.ndarray] = {}
    for name in topological_order(graph):
        node = graph[name]
        values[name] = run_node(node, [values[i] for i in node.inputs])
    return values


def max_overlap(log: list[tuple[str, int, float, float]]) -> int:
    """The most kernels that were running at one instant."""
    events = sorted([(s, 1) for _, _, s, _ in log] + [(e, -1) for _, _, _, e in log])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak
