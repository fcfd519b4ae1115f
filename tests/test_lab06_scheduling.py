"""Lab 06 end to end (solutions 100, stubs 0, the demo and its Chrome trace) and the contract of
each check: correct answers written another way keep full marks; the bugs students write — at
the corners of each input domain and in side effects — lose points in their own exercise on
every seed. Variants are graded in-process with the same `execute_case` the child uses."""
from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from rich.console import Console

from aisys.catalog import find_lab
from aisys.grading.execute import execute_case
from aisys.grading.plain import from_plain
from aisys.labrun import DemoOptions, run_demo
from aisys.scheduling import builders, kernels
from aisys.scheduling import devices as dev
from aisys.scheduling.baseline import fifo_makespan
from aisys.scheduling.checks import SUITE
from aisys.scheduling.chrome_trace import chrome_trace
from aisys.scheduling.costgraph import (critical_path, from_spec, graham_bound, lower_bound, node_costs, to_spec,
                                        topological_order, total_work)
from aisys.scheduling.modes import interaction_counts
from aisys.scheduling.properties import fifo_problem, heft_problem, idle_problem, priority_problem, validity_problem
from aisys.scheduling.timeline import Timeline
from aisys.scheduling.transfers import with_transfers
from aisys.ui.gantt import gantt
from aisys.workspace import Student
from conftest import REPO, STUBS, check_json, workspace

FOLDER = "06_scheduling"
SEEDS = (0, 1, 2, 3)
EXERCISES = {"fifo_schedule", "list_schedule", "hetero_schedule", "backward_order", "cost_class_schedule",
             "run_graph", "Dispatcher", "partition"}


def grade(labs, name: str, seeds=(0,), only=None, skip=()) -> dict:
    """{(seed, case id): (status, message)} for one exercise, graded in this process."""
    student, results = Student(find_lab("scheduling"), labs), {}
    for seed in seeds:
        for case in SUITE.plan(seed):
            if case.exercise != name or (only and case.id not in only) or case.id.startswith(tuple(skip)):
                continue
            record = execute_case(SUITE.checks[name], case, student)
            if record["status"] == "ok":
                verdict = SUITE.judge(case, from_plain(record["output"]))
                results[(seed, case.id)] = ("passed" if verdict.passed else "failed", verdict.message)
            else:
                results[(seed, case.id)] = (record["status"], record["message"])
    return results


def failures(results: dict) -> dict:
    return {key: message for key, (status, message) in results.items() if status != "passed"}


def lost_on_every_seed(results: dict, case_id: str, words: str = "") -> None:
    """The case whose id starts with `case_id` fails on every seed graded, with `words` in its
    message; some other case passes."""
    bad = failures(results)
    for seed in {s for s, _ in results}:
        key = next((k for k in results if k[0] == seed and k[1].startswith(case_id)), None)
        assert key in bad, (seed, case_id, results.get(key))
        assert words in bad[key], bad[key]
    assert len(bad) < len(results), "every case failed: the variant is broken beyond the planted bug"


def answer(file: str, nth: int = 0) -> str:
    """The nth answer body of a solution file (between its markers): what a variant replaces."""
    text = (REPO / "solutions" / FOLDER / file).read_text()
    return re.findall(r"# BEGIN SOLUTION\n(.*?\n)\s*# END SOLUTION", text, re.S)[nth]


# ---------------------------------------------------------------- the CLI, end to end


def test_solutions_score_full_marks():
    report, proc = check_json("scheduling", "--solutions")
    assert proc.returncode == 0, proc.stdout
    assert report["score"] == report["max_score"] == 100.0
    assert {ex["name"] for ex in report["labs"][0]["exercises"]} == EXERCISES
    assert all(ex["status"] == "passed" for ex in report["labs"][0]["exercises"])


def test_stubs_score_zero_not_started():
    report, proc = check_json("scheduling", "--labs-dir", str(STUBS))
    assert proc.returncode == 1 and report["score"] == 0
    assert {ex["status"] for ex in report["labs"][0]["exercises"]} == {"not_implemented"}
    assert "Traceback" not in proc.stdout + proc.stderr


def demo_text(labs, trace=None) -> str:
    """The demo in-process, as a piped run prints it (no colour: every mark is a character)."""
    lab = find_lab("scheduling")
    console = Console(file=io.StringIO(), width=100, color_system=None, record=True)
    run_demo(lab, Student(lab, labs), console, DemoOptions(solution=labs == REPO / "solutions", trace=trace))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 100
    return text


def test_demo_on_the_solutions_draws_links_cost_classes_and_a_partition(tmp_path):
    text = " ".join(demo_text(REPO / "solutions", tmp_path / "t.json").split())
    for words in ("serial, FIFO", "critical path first", "CPU + GPU (HEFT)", "link cpu→gpu", "unlabelled (too short)",
                  "cost classes (cost <= 2 inline)", "hand-offs", "same values as serial execution: yes",
                  "torch.library", "⇐ up from d0", "partitioned (2 devices)", "same values as the original: yes"):
        assert words in text, words
    events = json.loads((tmp_path / "t.json").read_text())["traceEvents"]
    complete = [e for e in events if e["ph"] == "X"]
    assert len(complete) > 50 and {e["cat"] for e in complete} == {"op", "transfer"}
    for event in complete:
        assert {"ph", "ts", "dur", "pid", "tid", "name"} <= set(event) and event["dur"] >= 0
    threads = {e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert {"cpu", "gpu", "link cpu→gpu"} <= threads


def test_demo_on_the_stubs_says_where_to_edit():
    text = demo_text(STUBS)
    assert "not implemented yet" in text and "Traceback" not in text


# ---------------------------------------------------------------- correct answers, written another way

CALLBACK_EXECUTOR = '''    import threading

    indegree = {node.name: len(node.inputs) for node in graph}
    consumers, values, lock, done, errors = graph.consumers(), {}, threading.Lock(), threading.Event(), []
    left = [len(indegree)]
    if not indegree:
        return values
    pool = ThreadPoolExecutor(max_workers=workers)

    def launch(name):
        node = graph[name]
        pool.submit(run_node, node, [values[i] for i in node.inputs]).add_done_callback(
            lambda future, name=name: finished(name, future))

    def finished(name, future):
        if future.exception() is not None:
            errors.append(future.exception())
            done.set()
            return
        ready = []
        with lock:
            values[name] = future.result()
            left[0] -= 1
            for nxt in consumers[name]:
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    ready.append(nxt)
            if left[0] == 0:
                done.set()
        for nxt in ready:
            launch(nxt)

    for name in [n for n, d in indegree.items() if d == 0]:
        launch(name)
    done.wait()
    pool.shutdown()
    if errors:
        raise errors[0]
    return values
'''
HANDMADE_POOL = '''    import queue
    import threading

    indegree = {node.name: len(node.inputs) for node in graph}
    consumers, values = graph.consumers(), {}
    tasks, results = queue.Queue(), queue.Queue()

    def work():
        while (name := tasks.get()) is not None:
            node = graph[name]
            try:
                results.put((name, run_node(node, [values[i] for i in node.inputs]), None))
            except Exception as err:
                results.put((name, None, err))

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    pending = 0
    for name, degree in indegree.items():
        if degree == 0:
            tasks.put(name)
            pending += 1
    try:
        while pending:
            name, value, err = results.get()
            pending -= 1
            if err is not None:
                raise err
            values[name] = value
            for nxt in consumers[name]:
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    tasks.put(nxt)
                    pending += 1
    finally:
        for _ in threads:
            tasks.put(None)
    return values
'''
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
    dfs = '''    sinks = graph.sinks()
    loss = loss if loss is not None else (sinks[0] if len(sinks) == 1 else None)
    if loss is None:
        raise ValueError("name the loss")
    order = topological_order(graph)
    requires = {}
    for name in order:
        requires[name] = graph[name].op == "param" or any(requires[i] for i in graph[name].inputs)
    reaches = {loss}
    for name in reversed(order):
        if name in reaches:
            reaches.update(graph[name].inputs)
    keep, seen, post = {n for n in reaches if requires[n]}, set(), []

    def visit(name):   # consumers of a kept node, among kept nodes, come first
        seen.add(name)
        for src in graph[name].inputs:
            if src in keep and src not in seen:
                visit(src)
        post.append(name)
    for name in [loss] if loss in keep else []:
        visit(name)
    return post[::-1]
'''
    labs = workspace(tmp_path, FOLDER, {"schedulers.py": [(answer("schedulers.py", 5), dfs)]})
    assert not failures(grade(labs, "backward_order", SEEDS))


@pytest.mark.parametrize("style", sorted(CORRECT))
def test_correct_answers_written_another_way_keep_full_marks(tmp_path, style):
    labs = workspace(tmp_path, FOLDER, CORRECT[style])
    for name in sorted(EXERCISES):
        seeds = (0,) if name in ("run_graph", "list_schedule") else (0, 1)
        assert not failures(grade(labs, name, seeds)), (style, name)


# ---------------------------------------------------------------- bugs at the corners, in side effects

QUADRATIC = '''    costs = node_costs(graph) if costs is None else costs
    level = bottom_levels(graph, costs)
    workers = [f"w{i}" for i in range(n_workers)]
    timeline = Timeline(workers=list(workers))
    finished, started, idle, running, now = set(), set(), list(range(n_workers)), [], 0.0
    while len(finished) < len(graph):   # every step scans every op for the ready ones: O(n²)
        ready = sorted((n.name for n in graph if n.name not in started and all(i in finished for i in n.inputs)),
                       key=lambda n: -level[n])
        for op in ready[:len(idle)]:
            worker = idle.pop(0)
            started.add(op)
            heapq.heappush(running, (now + costs[op], worker, op))
            timeline.add(op, workers[worker], now, now + costs[op])
        now = running[0][0]
        while running and running[0][0] == now:
            _, worker, op = heapq.heappop(running)
            finished.add(op)
            idle = sorted(idle + [worker])
    return timeline
'''
BLOCKING_EXECUTOR = '''    from aisys.scheduling.costgraph import topological_order

    futures = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:   # every node up front; threads wait for inputs
        for name in topological_order(graph):
            node = graph[name]
            futures[name] = pool.submit(lambda node=node: run_node(node, [futures[i].result() for i in node.inputs]))
        return {name: future.result() for name, future in futures.items()}
'''


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
], ids=["one-finish-per-step", "levels-cached-across-calls", "edges-deleted", "dead-consumers-counted",
        "loss-without-params", "threshold-strict", "inline-lifo", "nothing-inline", "consumer-set",
        "class-level-table", "dtypes-read-twice", "send-per-reader", "graph-mutated", "double-booking",
        "fifo-by-priority", "list-by-arrival", "heft-without-transfers", "heft-by-start", "grads-for-data",
        "pool-of-one", "dtype-unnamed", "first-argument", "cut-edges-direct", "balanced-by-count"])
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


def _heft_variant(old: str, new: str):
    hetero = REPO / "solutions" / "06_scheduling" / "schedulers.py"
    source = hetero.read_text()
    assert old in source
    namespace: dict = {}
    exec(compile(source.replace(old, new), str(hetero), "exec"), namespace)
    return namespace["hetero_schedule"]


def test_heft_property_catches_a_rank_without_transfers_but_not_another_tie_order():
    """The judge's HEFT rule alone: ranking by compute only visits ops in another order, and
    some op then finishes later than HEFT's order would have let it; breaking equal ranks
    another way (here: reversed topological position) is still HEFT."""
    no_comm = _heft_variant("comm = link.time(size[n]) * (p - 1) / p", "comm = 0.0")
    other_ties = _heft_variant("key=lambda n: (-rank[n], position[n])", "key=lambda n: (-rank[n], -position[n])")
    devices, link = [dev.CPU, dev.GPU, dev.NPU], dev.PCIE
    problems = []
    for seed in range(4):
        graph = builders.random_dag(np.random.default_rng(seed), 80)
        problems.append(heft_problem(graph, no_comm(graph, devices, link), devices, link))
        assert heft_problem(graph, other_ties(graph, devices, link), devices, link) is None
    twins = [dev.Device("gpu0", "GPU", 4.0, 0.25), dev.Device("gpu1", "GPU", 4.0, 0.25)]
    wide = builders.wide_graph(np.random.default_rng(0), 6)
    assert heft_problem(wide, other_ties(wide, twins, link), twins, link) is None
    assert any(p and "HEFT" in p for p in problems), problems



# ---------------------------------------------------------------- bench unit tests


def test_f_graph_bounds_and_value():
    g = builders.f_graph()
    assert critical_path(g) == 7 and total_work(g) == 14
    assert lower_bound(g, 3) == 7 and graham_bound(g, 2) == 14
    assert kernels.evaluate(g)["v5"] == pytest.approx(11.652071455223084)


def test_random_dag_scales_and_round_trips():
    g = builders.random_dag(np.random.default_rng(1), 10_000)
    assert len(g) == 10_000 and len(topological_order(g)) == 10_000
    small = builders.random_dag(np.random.default_rng(2), 10)
    assert to_spec(from_spec(json.loads(json.dumps(to_spec(small))))) == to_spec(small)




def test_properties_reject_broken_timelines():
    g = builders.f_graph()
    costs = node_costs(g)
    good = Timeline(["w0"])
    t = 0.0
    for name in topological_order(g):
        good.add(name, "w0", t, t + costs[name])
        t += costs[name]
    duration = lambda op, w: costs[op]  # noqa: E731
    assert validity_problem(g, good, ["w0"], duration) is None
    assert idle_problem(g, good, 1) is None and fifo_problem(g, good) is None
    overlap = Timeline.from_plain({"workers": ["w0"], "slots": [[s.op, s.worker, s.start, s.end] for s in good.slots]})
    overlap.slots[1] = type(overlap.slots[1])("x2", "w0", 0.5, 1.5)
    assert "at once" in validity_problem(g, overlap, ["w0"], duration)
    early = Timeline(["w0", "w1"])
    for s in good.slots:
        early.add(s.op, "w1" if s.op == "v1" else "w0", 0.0 if s.op == "v1" else s.start,
                  costs[s.op] if s.op == "v1" else s.end)
    assert "'v1' starts too early, at t=0: it reads 'x1'" in validity_problem(g, early, ["w0", "w1"], duration)
    lazy = Timeline(["w0", "w1"])
    for s in good.slots:
        lazy.add(s.op, "w0", s.start, s.end)     # w1 idles while v2, v3 wait
    assert "idle" in idle_problem(g, lazy, 2)
    assert priority_problem(g, good, {n: 0.0 for n in costs}) is None


def test_fifo_baseline_matches_serial_work():
    g = builders.training_graph(2)
    assert fifo_makespan(g, 1, node_costs(g)) == total_work(g)
    assert lower_bound(g, 3) <= fifo_makespan(g, 3, node_costs(g)) <= graham_bound(g, 3)


def test_chrome_trace_and_gantt_render_any_timeline():
    timeline = Timeline()
    timeline.add("a", "cpu", 0, 2)
    timeline.add("b", "gpu", 1, 3)
    trace = chrome_trace({"demo": timeline})
    json.dumps(trace)
    xs = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert [(e["name"], e["ts"], e["dur"]) for e in xs] == [("a", 0.0, 2000.0), ("b", 1000.0, 2000.0)]
    assert xs[0]["tid"] != xs[1]["tid"] and xs[0]["pid"] == xs[1]["pid"]
    console = Console(record=True, width=100)
    console.print(gantt(timeline, title="demo"))
    text = console.export_text()
    assert "cpu" in text and "gpu" in text and "time 0 … 3" in text and "% = share" in text


def test_interaction_counts():
    g = builders.f_graph()
    rows = interaction_counts(g)
    assert rows[0]["host_device"] == 10 and rows[1]["host_device"] == 2


def test_transfers_become_link_rows_and_trace_tracks():
    graph = builders.f_graph()
    timeline = Timeline()
    for op, worker, start, end in (("x1", "gpu", 0, 1), ("x2", "cpu", 0, 1), ("v1", "gpu", 1, 2), ("v2", "gpu", 1.6, 2),
                                   ("v3", "cpu", 1, 2), ("v4", "gpu", 2, 3), ("v5", "cpu", 3.6, 4)):
        timeline.add(op, worker, start, end)
    link = dev.Link(latency=0.5, bandwidth=64.0)
    merged = with_transfers(graph, timeline, link)
    moves = sorted((s.op, s.worker, s.start, s.end) for s in merged.slots if s.worker.startswith("link"))
    assert moves == [("v4", "link gpu→cpu", 3.0, 3.5625), ("x2", "link cpu→gpu", 1.0, 1.5625)]
    events = chrome_trace({"heft": merged})["traceEvents"]
    assert {e["cat"] for e in events if e["ph"] == "X" and e["name"] == "v4"} == {"op", "transfer"}


def test_gantt_names_short_ops_and_keeps_neighbours_apart_without_colour():
    timeline = Timeline()
    for k in range(6):
        timeline.add(f"op{k}", "w0", k * 0.1, (k + 1) * 0.1)
    timeline.add("long_one", "w0", 0.6, 10.0)
    console = Console(record=True, width=100, color_system=None)
    console.print(gantt(timeline, title="t"))
    text = console.export_text()
    assert "█▓█▓" in text and "unlabelled (too short), in order — w0: op0, op1" in text


def test_partition_table_draws_devices_and_moves():
    from aisys.ui.scheduling_panels import partition_table

    labs = Student(find_lab("scheduling"), REPO / "solutions")
    part = labs.get("partition")(builders.f_graph(), 2)
    console = Console(record=True, width=100, color_system=None)
    console.print(partition_table(part, "f on 2 devices"))
    text = console.export_text()
    assert "device 0" in text and "device 1" in text and "⇒" in text and "⇐" in text


def test_a_deadlocked_executor_is_named_not_waited_for():
    import threading

    from aisys.errors import StudentCodeError
    from aisys.scheduling.check_tools import with_deadline

    with pytest.raises(StudentCodeError, match="did not return within 0.2 s: a deadlock"):
        with_deadline(0.2, threading.Event().wait, what="run_graph")
