"""The graphs this lab schedules: the articles' f, a training step, a transformer block,
seeded random DAGs (10 to 10,000 nodes) and small graphs built to make a point — each
reaches one corner of a scheduler's input (simultaneous finishes, a value read twice,
zero-cost ops, a listing that is not topological, a dead branch, a straggler).

Costs are ints (abstract time units on a speed-1 worker); `bytes` is the output size.
Nodes with op `input`/`param` are sources; an executable graph gives them `shape` and
`seed` attrs so `aisys.scheduling.kernels` can make their values.
"""
from __future__ import annotations

import numpy as np

from aisys.graph.ir import Graph

#: op → (low, high) integer cost drawn for random graphs: matmuls are the expensive ops.
OP_COSTS = {"matmul": (6, 14), "add": (1, 3), "mul": (1, 3), "tanh": (2, 4), "relu": (1, 2)}
EXEC_OPS = tuple(OP_COSTS)


def f_graph() -> Graph:
    """f(x1, x2) = ln(x1) + x1·x2 − sin(x2), Baydin's numbering; executable (f(2, 5))."""
    g = Graph()
    g.add("x1", "input", cost=1, bytes=4, value=2.0)
    g.add("x2", "input", cost=1, bytes=4, value=5.0)
    g.add("v1", "log", ["x1"], cost=4, bytes=4)
    g.add("v2", "mul", ["x1", "x2"], cost=2, bytes=4)
    g.add("v3", "sin", ["x2"], cost=4, bytes=4)
    g.add("v4", "add", ["v1", "v2"], cost=1, bytes=4)
    g.add("v5", "sub", ["v4", "v3"], cost=1, bytes=4)
    return g


def training_graph(layers: int = 3, forward_only: bool = False) -> Graph:
    """One training step of an MLP: forward, loss, backward (dX and dW per layer), SGD update.

    Backward costs twice the forward (two matmuls per layer: one for the weight gradient,
    one for the input gradient) — and those two are independent, a chance for concurrency.
    """
    g = Graph()
    g.add("x", "input", cost=1, bytes=64)
    prev = "x"
    for i in range(1, layers + 1):
        g.add(f"w{i}", "param", cost=1, bytes=64)
        g.add(f"h{i}", "matmul", [prev, f"w{i}"], cost=8, bytes=64)
        g.add(f"a{i}", "relu", [f"h{i}"], cost=2, bytes=64)
        prev = f"a{i}"
    g.add("y", "input", cost=1, bytes=64)
    g.add("loss", "mse", [prev, "y"], cost=2, bytes=4)
    if forward_only:
        return g
    g.add("dloss", "mse_grad", ["loss", prev, "y"], cost=2, bytes=64)
    grad = "dloss"
    for i in range(layers, 0, -1):
        below = "x" if i == 1 else f"a{i - 1}"
        g.add(f"dh{i}", "relu_grad", [grad, f"h{i}"], cost=2, bytes=64)
        g.add(f"dw{i}", "matmul_grad_w", [below, f"dh{i}"], cost=8, bytes=64)
        if i > 1:
            g.add(f"da{i - 1}", "matmul_grad_x", [f"dh{i}", f"w{i}"], cost=8, bytes=64)
            grad = f"da{i - 1}"
        g.add(f"sgd{i}", "sgd", [f"w{i}", f"dw{i}"], cost=1, bytes=64)
    return g


def transformer_block() -> Graph:
    """A pre-norm transformer block: three parallel projections, attention, a 4x MLP."""
    g = Graph()
    g.add("x", "input", cost=1, bytes=256)
    g.add("ln1", "layernorm", ["x"], cost=2, bytes=256)
    for p in ("q", "k", "v"):
        g.add(f"w{p}", "param", cost=1, bytes=256)
        g.add(p, "matmul", ["ln1", f"w{p}"], cost=8, bytes=256)
    g.add("scores", "matmul", ["q", "k"], cost=6, bytes=128)
    g.add("probs", "softmax", ["scores"], cost=3, bytes=128)
    g.add("attn", "matmul", ["probs", "v"], cost=6, bytes=256)
    g.add("wo", "param", cost=1, bytes=256)
    g.add("proj", "matmul", ["attn", "wo"], cost=8, bytes=256)
    g.add("res1", "add", ["x", "proj"], cost=1, bytes=256)
    g.add("ln2", "layernorm", ["res1"], cost=2, bytes=256)
    g.add("w_up", "param", cost=1, bytes=1024)
    g.add("up", "matmul", ["ln2", "w_up"], cost=32, bytes=1024)
    g.add("gelu", "gelu", ["up"], cost=4, bytes=1024)
    g.add("w_down", "param", cost=1, bytes=1024)
    g.add("down", "matmul", ["gelu", "w_down"], cost=32, bytes=256)
    g.add("res2", "add", ["res1", "down"], cost=1, bytes=256)
    return g


def random_dag(rng: np.random.Generator, n: int, *, sources: int | None = None, window: int | None = None,
               shape: tuple[int, ...] | None = None) -> Graph:
    """A seeded random DAG of `n` nodes in O(n): each op reads 1-2 recent nodes.

    `window` (default ~sqrt(n)) bounds how far back an input may be: small windows give
    long, narrow graphs; large ones wide, shallow graphs. With `shape`, sources get a
    `seed` and the graph can be executed by `aisys.scheduling.kernels`.
    """
    n_src = sources if sources is not None else max(1, min(n // 8, 64))
    window = window or max(4, int(np.sqrt(n)))
    g = Graph()
    names: list[str] = []
    ops = rng.choice(len(EXEC_OPS), size=n)
    for i in range(n):
        name = f"n{i}"
        if i < n_src:
            attrs = {"cost": 1, "bytes": int(rng.integers(8, 64))}
            if shape is not None:
                attrs |= {"shape": list(shape), "seed": int(rng.integers(2**31))}
            g.add(name, "input", **attrs)
        else:
            op = EXEC_OPS[int(ops[i])]
            lo = max(0, i - window)
            arity = 1 if op in ("tanh", "relu") else 2
            inputs = [names[int(j)] for j in rng.integers(lo, i, size=arity)]
            low, high = OP_COSTS[op]
            g.add(name, op, inputs, cost=int(rng.integers(low, high + 1)), bytes=int(rng.integers(8, 64)))
        names.append(name)
    return g


def executable_dag(rng: np.random.Generator, n: int) -> Graph:
    """A random DAG of small matrices that `aisys.scheduling.kernels` can execute."""
    return random_dag(rng, n, shape=(8, 8), window=8)


def sleep_graph(width: int, seconds: float = 0.03) -> Graph:
    """A source fanning out to `width` kernels that each sleep: independent ops a thread pool
    can overlap (sleeping holds no lock, like waiting on a GPU), joined by an add."""
    g = Graph()
    g.add("x", "input", shape=[4], seed=7, cost=1)
    for i in range(width):
        g.add(f"s{i}", "sleep", ["x"], seconds=seconds, cost=30)
    g.add("join", "add", [f"s{i}" for i in range(width)], cost=1)
    return g


def straggler_graph(slow: float = 0.3, fast: float = 0.01) -> Graph:
    """One slow kernel beside a short chain: an executor that waits for a whole wave of
    kernels (a barrier) starts the chain's second op only after the straggler ends."""
    g = Graph()
    g.add("x", "input", shape=[4], seed=5, cost=1)
    g.add("straggler", "sleep", ["x"], seconds=slow, cost=30)
    g.add("quick1", "sleep", ["x"], seconds=fast, cost=1)
    g.add("quick2", "sleep", ["quick1"], seconds=fast, cost=1)
    g.add("join", "add", ["straggler", "quick2"], cost=1)
    return g


def straggler_with_blockers(slow: float = 0.3, fast: float = 0.01) -> Graph:
    """The straggler again, with two of its consumers listed before the short chain: an
    executor that submits every node up front, each pool thread blocking until its inputs
    are done, fills the pool with waiting threads and starts the chain only after the
    straggler — listed in topological order, so no deadlock hides the delay."""
    g = Graph()
    g.add("x", "input", shape=[4], seed=5, cost=1)
    g.add("straggler", "sleep", ["x"], seconds=slow, cost=30)
    g.add("after1", "sleep", ["straggler"], seconds=fast, cost=1)
    g.add("after2", "sleep", ["straggler"], seconds=fast, cost=1)
    g.add("quick1", "sleep", ["x"], seconds=fast, cost=1)
    g.add("quick2", "sleep", ["quick1"], seconds=fast, cost=1)
    g.add("join", "add", ["after1", "after2", "quick2"], cost=1)
    return g


def listed_backwards(graph: Graph) -> Graph:
    """The same graph with its nodes listed consumers first: nothing may assume that a node's
    inputs come before it in the listing."""
    return Graph(reversed(list(graph)))


def square_reads(shape: tuple[int, ...] = (3,)) -> Graph:
    """A node that reads one value twice (`y = h * h`): it counts two inputs but one producer."""
    g = Graph()
    g.add("x", "input", shape=list(shape), seed=1, cost=1, bytes=8)
    g.add("h", "tanh", ["x"], cost=9, bytes=8)
    g.add("y", "mul", ["h", "h"], cost=9, bytes=8)
    g.add("z", "add", ["y", "h"], cost=1, bytes=8)
    return g


def simultaneous_finish() -> Graph:
    """Two sources end at the same instant on two workers. Each alone readies one short side
    op; only both together ready the two heads of long chains. A scheduler that finishes one
    op per step starts a side op before it sees the long chains (for 2 workers)."""
    g = Graph()
    g.add("a", "input", cost=2, bytes=8)
    g.add("b", "input", cost=2, bytes=8)
    g.add("side_a", "tanh", ["a"], cost=1, bytes=8)
    g.add("side_b", "tanh", ["b"], cost=1, bytes=8)
    for i in (1, 2):
        g.add(f"head{i}", "matmul", ["a", "b"], cost=3, bytes=8)
        g.add(f"tail{i}", "matmul", [f"head{i}"], cost=6, bytes=8)
    return g


def inline_order() -> Graph:
    """One expensive source readies two cheap ops; the second readies a third. Run inline first
    in, first out, the thread takes c1, c2, c3; last in, first out would run c3 (ready later)
    before c1."""
    g = Graph()
    g.add("s", "matmul", cost=3, bytes=8)
    g.add("c1", "add", ["s"], cost=1, bytes=8)
    g.add("c2", "add", ["s"], cost=1, bytes=8)
    g.add("c3", "relu", ["c2"], cost=1, bytes=8)
    return g


def with_zero_costs(graph: Graph, every: int = 3) -> Graph:
    """Every `every`-th op costs 0 (a reshape, a view): it ends the instant it starts."""
    for k, node in enumerate(graph):
        if k % every == every - 1:
            node.attrs["cost"] = 0
    return graph


def dead_branch_training() -> Graph:
    """A parameter whose value also feeds a branch that never reaches the loss (a logged
    metric): its gradient waits only for the consumers on a path to the loss."""
    g = Graph()
    g.add("w", "param")
    g.add("x", "input")
    g.add("h", "matmul", ["x", "w"])
    g.add("norm", "mul", ["w", "w"])     # a metric: never reaches the loss
    g.add("loss", "add", ["h", "x"])
    return g


def skewed_costs(graph: Graph, tail: float = 0.3, cost: int = 25) -> Graph:
    """The last `tail` of the nodes (in listing order) made expensive, the rest cost 1: work
    balanced by node count is far from balanced by cost."""
    nodes = list(graph)
    for k, node in enumerate(nodes):
        node.attrs["cost"] = cost if k >= len(nodes) * (1 - tail) else 1
    return graph


def chain_and_crowd(rng: np.random.Generator) -> Graph:
    """One long chain (the critical path) listed *after* a crowd of short independent ops.

    A FIFO queue serves the crowd first and starts the chain late; a critical-path
    priority starts the chain at once.
    """
    g = Graph()
    crowd = int(rng.integers(6, 16))
    for i in range(crowd):
        g.add(f"c{i}", "tanh", cost=int(rng.integers(2, 6)), bytes=8)
    length = int(rng.integers(4, 9))
    prev = None
    for i in range(length):
        g.add(f"k{i}", "matmul", [prev] if prev else [], cost=int(rng.integers(3, 7)), bytes=8)
        prev = f"k{i}"
    return g


def transfer_bound_graph(rng: np.random.Generator, n: int) -> Graph:
    """One source feeding a random DAG whose outputs are huge: moving any tensor between
    devices costs more than running the whole graph on the slowest device."""
    g = random_dag(rng, n, sources=1)
    for node in g:
        node.attrs["bytes"] = 10**9
    return g


def wide_graph(rng: np.random.Generator, width: int) -> Graph:
    """A source fanning out to `width` independent expensive ops, joined by a cheap sum."""
    g = Graph()
    g.add("src", "input", cost=1, bytes=1)
    for i in range(width):
        g.add(f"m{i}", "matmul", ["src"], cost=int(rng.integers(20, 40)), bytes=1)
    g.add("join", "add", [f"m{i}" for i in range(width)], cost=1, bytes=1)
    return g
