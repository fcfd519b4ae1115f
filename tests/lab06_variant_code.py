"""Whole answer bodies for lab 06's variants (test_lab06_variants.py): three correct rewrites
in another style and two classic mistakes. Each replaces the body between one pair of markers
of a solution file."""

#: run_graph, correct: futures that submit their ready consumers from a done-callback
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

#: run_graph, correct: a hand-made pool (threads pulling names from a queue.Queue)
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

#: backward_order, correct: reversed post-order of a depth-first search from the loss
DEPTH_FIRST_BACKWARD = '''    sinks = graph.sinks()
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

#: list_schedule, wrong: scans every op for the ready ones at every step (O(n²))
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

#: run_graph, wrong: every node submitted up front, pool threads parked waiting for inputs
BLOCKING_EXECUTOR = '''    from aisys.scheduling.costgraph import topological_order

    futures = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:   # every node up front; threads wait for inputs
        for name in topological_order(graph):
            node = graph[name]
            futures[name] = pool.submit(lambda node=node: run_node(node, [futures[i].result() for i in node.inputs]))
        return {name: future.result() for name, future in futures.items()}
'''
