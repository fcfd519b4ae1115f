"""Lab 06: the contract of each check. Correct answers written another way (another order,
another data structure, another algorithm) keep full marks; the bugs students write — at the
corners of each input domain, in side effects on the graph, in state kept between calls, in
speed (O(n²)) and in how threads wait — lose points in their own exercise on every seed.
Graded in-process (labs56_inprocess)."""
from __future__ import annotations

import functools

import pytest

from aisys.scheduling.checks import SUITE
from conftest import workspace
from inprocess import answer as solution_body
from lab06_variant_code import BLOCKING_EXECUTOR, CALLBACK_EXECUTOR, DEPTH_FIRST_BACKWARD, HANDMADE_POOL, QUADRATIC
from inprocess import failures, grade as grade_lab, lost_on_every_seed

FOLDER = "06_scheduling"
SEEDS = (0, 1, 2, 3)
EXERCISES = sorted(SUITE.checks)
grade = functools.partial(grade_lab, "scheduling", SUITE)
answer = functools.partial(solution_body, FOLDER)


# ---------------------------------------------------------------- correct answers, written another way

CORRECT = {
    # the highest-numbered idle worker/thread first; consumers pushed in reverse; HEFT ties by reverse
    # topological position; backward by a stack; a callback-driven executor; a flat dispatch table
    # keyed by (op, device, layout); partition placing each op on the least-loaded device so far
    "other-orders": {
        "schedulers.py": [("idle = list(range(n_workers))", "idle = [-i for i in range(n_workers)]"),
                          ("op, worker = queue.pop(), heapq.heappop(idle)", "op, worker = queue.pop(), -heapq.heappop(idle)"),
                          ("heapq.heappush(idle, worker)", "heapq.heappush(idle, -worker)"),
                          ("for nxt in consumers[op]:", "for nxt in reversed(consumers[op]):"),
                          ("key=lambda n: (-rank[n], position[n])", "key=lambda n: (-rank[n], -position[n])"),
                          ("name = ready.popleft()", "name = ready.pop()")],
        "concurrency.py": [("for t in range(n_threads):", "for t in reversed(range(n_threads)):"),
                           ("for nxt in consumers[op]:", "for nxt in reversed(consumers[op]):")],
        "executor.py": [(answer("executor.py"), CALLBACK_EXECUTOR)],
        "dispatch.py": [
            ("by_dtype = self.kernels.setdefault(op, {}).setdefault((device, layout), {})",
             "by_dtype = self.kernels.setdefault((op, device, layout), {})"),
            ("        backends = self.kernels.get(op)\n        if backends is None:",
             "        backends = {(d, l): k for (o, d, l), k in self.kernels.items() if o == op}\n        if not backends:")],
        "partition.py": [("    placed, current = 0.0, 0\n    for name in order:\n"
                          "        if placed >= share * (current + 1) and current < n_devices - 1:\n"
                          "            current += 1\n        device[name] = current\n        placed += costs[name]\n",
                          "    load = [0.0] * n_devices\n    for name in order:\n"
                          "        device[name] = load.index(min(load))\n        load[device[name]] += costs[name]\n")]},
    # a FIFO list with a head index; bottom levels by memoised recursion and a sorted list as the
    # priority queue; HEFT scanning devices last to first; backward by depth-first search; the
    # cost-class queue as a deque (constant hand-off: enqueue order is availability order); a
    # hand-made pool of threads; devices numbered from the last
    "other-structures": {
        "schedulers.py": [
            ("        self.items: deque[str] = deque()", "        self.items: list[str] = []\n        self.head = 0"),
            ("        return self.items.popleft()", "        self.head += 1\n        return self.items[self.head - 1]"),
            ("        return len(self.items)\n\n\nclass PriorityQueue",
             "        return len(self.items) - self.head\n\n\nclass PriorityQueue"),
            ("        heapq.heappush(self.heap, (-self.priority[name], self.pushed, name))",
             "        __import__('bisect').insort(self.heap, (-self.priority[name], self.pushed, name))"),
            ("        return heapq.heappop(self.heap)[2]", "        return self.heap.pop(0)[2]"),
            ("    for name in reversed(topological_order(graph)):\n"
             "        level[name] = costs[name] + max((level[c] for c in consumers[name]), default=0.0)\n",
             "    def bl(name):\n        if name not in level:\n"
             "            level[name] = costs[name] + max((bl(c) for c in consumers[name]), default=0.0)\n"
             "        return level[name]\n    for name in topological_order(graph):\n        bl(name)\n"),
            ("        for d in devices:\n            ready", "        for d in reversed(devices):\n            ready"),
            ("if best is None or end < best[2]:", "if best is None or end <= best[2]:")],
        "concurrency.py": [("    queue: list[tuple[float, int, str]] = []", "    queue = deque()"),
                           ("        heapq.heappush(queue, (now + dispatch, pushed, op))",
                            "        queue.append((now + dispatch, pushed, op))"),
                           ("                op = heapq.heappop(queue)[2]", "                op = queue.popleft()[2]")],
        "executor.py": [(answer("executor.py"), HANDMADE_POOL)],
        "dispatch.py": [('raise LookupError(f"{op!r} has no kernel for backend {device}/{layout} (registered: {known})")',
                         'raise LookupError(f"no {device}/{layout} kernel for {op}")')],
        "partition.py": [("        device[name] = current\n", "        device[name] = n_devices - 1 - current\n")]},
}


def test_backward_order_by_depth_first_search_keeps_full_marks(tmp_path):
    labs = workspace(tmp_path, FOLDER, {"schedulers.py": [(answer("schedulers.py", 5), DEPTH_FIRST_BACKWARD)]})
    assert not failures(grade(labs, "backward_order", SEEDS))


@pytest.mark.parametrize("style", sorted(CORRECT))
def test_correct_answers_written_another_way_keep_full_marks(tmp_path, style):
    labs = workspace(tmp_path, FOLDER, CORRECT[style])
    for name in sorted(EXERCISES):
        seeds = (0,) if name in ("run_graph", "list_schedule") else (0, 1)
        assert not failures(grade(labs, name, seeds)), (style, name)


# ---------------------------------------------------------------- bugs at the corners, in side effects


@pytest.mark.parametrize("bugs, exercise, case_id, words", [
    # one op finished per step: an op made ready by the second op ending at t never competes at t
    ({"schedulers.py": [("while running and running[0][0] == now:", "if running and running[0][0] == now:")]},
     "list_schedule", "simultaneous-finishes", "longer path to the end"),
    # bottom levels cached by node name across calls (state shared between calls)
    ({"schedulers.py": [("    consumers = graph.consumers()\n    level: dict[str, float] = {}\n",
                         "    consumers = graph.consumers()\n    level = _LEVELS\n"),
                        ("class FifoQueue:", "_LEVELS: dict = {}\n\n\nclass FifoQueue:"),
                        ("        level[name] = costs[name] +", "        level[name] = level.get(name) or costs[name] +")]},
     "list_schedule", "same-names-twice", ""),
    # Kahn by deleting the edges of the graph it was given
    ({"schedulers.py": [("                indegree[nxt] -= 1\n                if indegree[nxt] == 0:\n"
                         "                    queue.push(nxt)",
                         "                graph[nxt].inputs.remove(op)\n                indegree[nxt] -= 1\n"
                         "                if indegree[nxt] == 0:\n                    queue.push(nxt)")]},
     "fifo_schedule", "*", "changed the graph"),
    # every consumer counted, also those on a branch that never reaches the loss
    ({"schedulers.py": [("    for name in keep:\n        for src in graph[name].inputs:\n            if src in keep:\n"
                         "                pending[src] += 1",
                         "    for name in graph.nodes:\n        for src in graph[name].inputs:\n            if src in keep:\n"
                         "                pending[src] += 1")]},
     "backward_order", "param-feeds-a-dead-branch", "missing"),
    # a consumer that reads a value twice counted once, yet decremented twice: ready too early
    ({"schedulers.py": [("    for name in keep:\n        for src in graph[name].inputs:\n            if src in keep:\n"
                         "                pending[src] += 1",
                         "    for name in keep:\n        for src in set(graph[name].inputs):\n            if src in keep:\n"
                         "                pending[src] += 1")]},
     "backward_order", "two-consumers-each-read-twice", "comes before its consumer"),
    # the loss listed even when nothing trainable feeds it
    ({"schedulers.py": [("deque([loss] if loss in keep else [])", "deque([loss])")]},
     "backward_order", "nothing-trainable", "gets no gradient"),
    # cheap means cost < threshold (the docstring says <=)
    ({"concurrency.py": [("if costs[nxt] <= threshold:", "if costs[nxt] < threshold:")]},
     "cost_class_schedule", "costs-equal-the-threshold", ""),
    # inline ops taken last-in first-out
    ({"concurrency.py": [("op = inline[t].popleft()", "op = inline[t].pop()")]},
     "cost_class_schedule", "inline-first-in-first-out", "first-in first-out"),
    # every op through the queue: no inline work at all
    ({"concurrency.py": [("                        inline[t].append(nxt)", "                        enqueue(nxt, now)")]},
     "cost_class_schedule", "f-one-thread", "inline"),
    # consumers as a set: a node reading one value twice never reaches a zero count
    ({"executor.py": [("    consumers = graph.consumers()",
                       "    consumers = {k: list(dict.fromkeys(v)) for k, v in graph.consumers().items()}")]},
     "run_graph", "value-read-twice", "missing the key 'y'"),
    # registrations on the class, shared by every Dispatcher
    ({"dispatch.py": [("    def __init__(self) -> None:\n        self.kernels: dict[str, dict[tuple[str, str], "
                       "dict[str, Callable]]] = {}",
                       "    kernels: dict = {}\n\n    def __init__(self) -> None:\n        pass")]},
     "Dispatcher", "instances-do-not-share", "no LookupError"),
    # the dtypes iterated twice (a check, then the loop): a generator is empty the second time
    ({"dispatch.py": [("        for dtype in dtypes:\n            by_dtype[dtype] = kernel",
                       "        if not all(isinstance(d, str) for d in dtypes):\n            raise TypeError('dtypes')\n"
                       "        for dtype in dtypes:\n            by_dtype[dtype] = kernel")]},
     "Dispatcher", "dtypes-as-a-generator", "raised LookupError although"),
    # one send/recv per reading node, not per device
    ({"partition.py": [("(src, here) not in moved", "(src, name) not in moved"),
                       ('f"send_{src}_to_d{here}"', 'f"send_{src}_for_{name}"'),
                       ('f"recv_{src}_on_d{here}"', 'f"recv_{src}_for_{name}"'),
                       ("moved[(src, here)] = recv.name", "moved[(src, name)] = recv.name"),
                       ("else moved[(src, here)])", "else moved[(src, name)])")]},
     "partition", "value-read-twice", "more than once"),
    # the device written into the nodes of the graph it was given
    ({"partition.py": [("        node, here = graph[name], device[name]\n",
                        "        node, here = graph[name], device[name]\n        node.attrs['device'] = here\n")]},
     "partition", "*", "changed the graph"),
    # a worker handed out but never taken off the idle list: double booking
    ({"schedulers.py": [("op, worker = queue.pop(), heapq.heappop(idle)", "op, worker = queue.pop(), idle[0]")]},
     "fifo_schedule", "*", "at once"),
    # the policies swapped: FIFO served by priority, list scheduling by arrival
    ({"schedulers.py": [("costs, FifoQueue())", "costs, PriorityQueue(bottom_levels(graph, node_costs(graph))))")]},
     "fifo_schedule", "chain-and-crowd", "FIFO queue"),
    ({"schedulers.py": [("return simulate(graph, n_workers, costs, PriorityQueue(bottom_levels(graph, costs)))",
                         "return simulate(graph, n_workers, costs, FifoQueue())")]},
     "list_schedule", "chain-and-crowd-0", "longer path to the end"),
    # HEFT forgetting the transfer of a cross-device input; keeping the device where an op *starts* first
    ({"schedulers.py": [("finish[u] + transfer(link, size[u], place[u], d.name)", "finish[u]")]},
     "hetero_schedule", "training-cpu-gpu", "too early"),
    ({"schedulers.py": [("if best is None or end < best[2]:", "if best is None or start < best[1]:")]},
     "hetero_schedule", "training-cpu-gpu", "would have finished earlier"),
    # gradients for every ancestor of the loss, trainable or not
    ({"schedulers.py": [("keep = {name for name in reaches if requires[name]}", "keep = set(reaches)")]},
     "backward_order", "training-forward", "gets no gradient"),
    # a pool that forgot its size: right values, nothing in parallel
    ({"executor.py": [("ThreadPoolExecutor(max_workers=workers)", "ThreadPoolExecutor(max_workers=1)")]},
     "run_graph", "independent-kernels-overlap", "never ran at the same time"),
    # the dtype-level error forgets the dtype; the first argument dispatched on, tensor or not
    ({"dispatch.py": [('raise LookupError(f"{op!r} on {device}/{layout} is not implemented for dtype {dtype} "',
                       'raise LookupError(f"{op!r} on {device}/{layout}: no kernel "')]},
     "Dispatcher", "basic", "missing dtype key"),
    ({"dispatch.py": [('tensor = next((a for a in args if hasattr(a, "dtype") and hasattr(a, "layout")), None)',
                       "tensor = args[0] if args else None")]},
     "Dispatcher", "scalar-before-the-tensor", ""),
    # readers on another device reading the producer directly; work balanced by node count
    ({"partition.py": [("inputs.append(src if device[src] == here else moved[(src, here)])", "inputs.append(src)")]},
     "partition", "f-2-devices", "needs a send/recv pair"),
    ({"partition.py": [("    costs = node_costs(graph)\n", "    costs = {name: 1.0 for name in node_costs(graph)}\n")]},
     "partition", "skewed-costs", "cost units"),
    # the costs argument ignored: every op runs for its node attr cost
    ({"schedulers.py": [("simulate(graph, n_workers, node_costs(graph) if costs is None else costs, FifoQueue())",
                         "simulate(graph, n_workers, node_costs(graph), FifoQueue())")]},
     "fifo_schedule", "explicit-costs", "not its cost"),
    ({"concurrency.py": [("    costs = node_costs(graph) if costs is None else costs\n", "    costs = node_costs(graph)\n")]},
     "cost_class_schedule", "explicit-costs", "not its cost"),
    # HEFT ties resolved to the last device listed
    ({"schedulers.py": [("if best is None or end < best[2]:", "if best is None or end <= best[2]:")]},
     "hetero_schedule", "training-cpu-gpu", "listed first"),
    # the loss argument replaced by the last-listed sink
    ({"schedulers.py": [("    sinks = graph.sinks()\n    if loss is None:",
                         "    sinks = graph.sinks()\n    loss = sinks[-1] if len(sinks) > 1 else None\n"
                         "    if loss is None:")]},
     "backward_order", "loss-listed-before-a-metric", "gets no gradient"),
    ({"schedulers.py": [("    sinks = graph.sinks()\n    if loss is None:",
                         "    sinks = graph.sinks()\n    loss = sinks[-1] if len(sinks) > 1 else None\n"
                         "    if loss is None:")]},
     "backward_order", "interior-loss", ""),
], ids=["one-finish-per-step", "levels-cached-across-calls", "edges-deleted", "dead-consumers-counted",
        "consumers-counted-as-a-set", "loss-without-params", "threshold-strict", "inline-lifo", "nothing-inline",
        "consumer-set",
        "class-level-table", "dtypes-read-twice", "send-per-reader", "graph-mutated", "double-booking",
        "fifo-by-priority", "list-by-arrival", "heft-without-transfers", "heft-by-start", "grads-for-data",
        "pool-of-one", "dtype-unnamed", "first-argument", "cut-edges-direct", "balanced-by-count",
        "fifo-ignores-costs", "cost-class-ignores-costs", "heft-ties-to-the-last", "backward-loss-ignored-metric",
        "backward-loss-ignored-interior"])
def test_each_bug_loses_its_case_on_every_seed(tmp_path, bugs, exercise, case_id, words):
    slow = ("scales-like", "independent-kernels", "no-threads") if case_id not in ("independent-kernels-overlap",) \
        else ("scales-like", "no-threads")   # the timed cases run where the bug is about time
    results = grade(workspace(tmp_path, FOLDER, bugs), exercise, SEEDS, skip=slow)
    if case_id == "*":   # a bug every case meets (a side effect on the input, double booking)
        assert all(words in message for message in failures(results).values()) and len(failures(results)) == len(results)
    else:
        lost_on_every_seed(results, case_id, words)


def test_a_quadratic_list_scheduler_loses_the_scaling_case(tmp_path):
    labs = workspace(tmp_path, FOLDER, {"schedulers.py": [(answer("schedulers.py", 3), QUADRATIC)]})
    results = grade(labs, "list_schedule", (0, 1), only=[c.id for c in SUITE.plan(0) if c.id.startswith("scales")]
                    + ["f-2-workers"])
    bad = failures(results)
    assert {case for _, case in bad} == {"scales-like-n-log-n-250-to-1000-nodes"}, results
    assert all("grows like n²" in message for message in bad.values())


def test_executors_that_hold_threads_or_waves_lose_the_straggler_case(tmp_path):
    """Every node submitted up front with pool threads waiting for inputs; a wave barrier."""
    for name, edits in (("blocking", [(answer("executor.py"), BLOCKING_EXECUTOR)]),
                        ("waves", [("wait(running, return_when=FIRST_COMPLETED)", "wait(running)")])):
        results = grade(workspace(tmp_path / name, FOLDER, {"executor.py": edits}), "run_graph", (0,),
                        only=("no-threads-held-waiting", "f-2-workers", "value-read-twice"))
        assert set(failures(results)) == {(0, "no-threads-held-waiting")}, (name, results)
