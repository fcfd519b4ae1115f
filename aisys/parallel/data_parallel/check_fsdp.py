"""Checks for FSDP (ZeRO-3): k steps equal one process; gather/free/reduce-scatter per unit; memory.

Ground truth: single-process training on the full batch (through the same casts when a
compute dtype is set), plain torch.optim.SGD with momentum. Half-batch averaging is never
bit-equal to the full batch on CPU (~1e-7 here), so fp32 is judged within 1e-5; 16-bit runs
within what their rounding allows, and by structure: bytes on the wire at 2 per element,
each unit's output in the compute dtype. Memory is measured on the rank (`memprobe`).
"""
from __future__ import annotations

from aisys.grading.compare import close, magnitude
from aisys.grading.shapes import BOOL, INT, NUMBER, STR, array, dict_of, expect, list_of, mapping, per_rank, tuple_of
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail

DTYPES = {"float32": None, "bfloat16": "bfloat16", "float16": "float16"}
TOLERANCE = {"float32": (1e-5, 1e-6), "bfloat16": (3e-2, 2e-2), "float16": (5e-3, 3e-3)}
SLACK = 8 * 1024            # bytes of heap noise allowed per memory sample
EVENT = tuple_of(STR, INT, STR)       # [what, unit index or bytes, reduce op]
SAMPLE = tuple_of(STR, INT)           # [label, live bytes above the step's start]


def _dtype(name: str | None):
    import torch

    return None if name is None else getattr(torch, name)


def units_of(model) -> list:
    """FSDP's units: the direct children that hold parameters, in order."""
    return [child for child in model.children() if any(True for _ in child.parameters())]


class FSDPCheck(ExerciseCheck):
    exercise = "FSDP"
    case_timeout = 20.0
    hint = ("per-parameter shards as p.data; per unit: all-gather before forward and again before backward (a hook "
            "on the unit's output), free after each use by resizing the full tensor's storage to 0 (autograd keeps "
            "views of it), one reduce_scatter_tensor(op='avg') per unit when its gradients are ready")

    def cases(self, rng):
        def case(name, world, dtype, **extra):
            return Case(name, {"world": world, "dtype": dtype, "seed": int(rng.integers(1 << 30)), "steps": 5,
                               "batch": 2 * world, "width": int(rng.choice([160, 192])), "depth": 3,
                               "lr": 0.01, **extra})
        return [case("w2-fp32", 2, "float32"), case("w4-fp32", 4, "float32"),
                case("w2-bf16", 2, "bfloat16"), case("w2-fp16", 2, "float16")]

    def run(self, case, student):
        import torch
        import torch.nn.functional as F

        from aisys.grading.shapes import require
        from aisys.parallel import comm, context
        from aisys.parallel.data_parallel.fsdp_trace import StepTrace, gradient_problem
        from aisys.parallel.data_parallel.toys import make_stack, shard, toy_batches

        p, rank, world = case.inputs, context.rank(), context.world_size()
        model = make_stack(p["seed"], width=p["width"], depth=p["depth"])
        wrapped = student.get("FSDP")(model, compute_dtype=_dtype(DTYPES[p["dtype"]]))
        params = list(wrapped.parameters())
        same_module = getattr(wrapped, "module", None) is model
        local = {name: int(q.numel()) for name, q in model.named_parameters()}
        trace = StepTrace(units_of(model))
        opt = torch.optim.SGD(params, lr=p["lr"], momentum=0.9)
        steps = []
        for batch in toy_batches(p["seed"] + 1, p["steps"], p["batch"]):
            x, y = shard(batch, rank, world)
            opt.zero_grad(set_to_none=True)
            trace.start()
            with comm.comm_log().capture() as records:
                out = require(wrapped(x), torch.Tensor, "FSDP's forward", "a tensor")
                loss = F.mse_loss(out.float(), y)
                trace.point("backward")
                loss.backward()
                trace.point("sync")
                wrapped.finish_gradient_synchronization()
                trace.point("synced")
            steps.append({"loss": float(loss.detach()), "events": trace.events(records), "memory": trace.memory(),
                          "out_dtype": str(out.dtype),
                          "grads": gradient_problem(list(model.named_parameters()))})
            opt.step()
        trace.remove()
        full = require(wrapped.full_parameters(), dict, "FSDP.full_parameters()", "a dict of name → tensor")
        full = {str(k): require(v, torch.Tensor, f"full_parameters()[{k!r}]", "a tensor") for k, v in full.items()}
        stable = same_module and [id(q) for q in wrapped.parameters()] == [id(q) for q in params] \
            and [id(q) for q in model.parameters()] == [id(q) for q in params]
        return {"local": local, "stable": bool(stable), "steps": steps,
                "full": {k: v.detach().float() for k, v in full.items()},
                "full_dtypes": {k: str(v.dtype) for k, v in full.items()}}

    # ------------------------------------------------------------------ parent side

    def judge(self, case, output):
        from aisys.parallel.data_parallel.toys import make_stack

        p, world = case.inputs, case.inputs["world"]
        model = make_stack(p["seed"], width=p["width"], depth=p["depth"])
        names = [n for n, _ in model.named_parameters()]
        shapes = {n: tuple(q.shape) for n, q in model.named_parameters()}
        step = dict_of({"loss": NUMBER, "events": list_of(EVENT), "memory": list_of(SAMPLE),
                        "out_dtype": STR, "grads": STR})
        shape = per_rank(dict_of({"local": mapping(INT, keys=names), "stable": BOOL,
                                  "steps": list_of(step, p["steps"]),
                                  "full": mapping(array(), keys=names), "full_dtypes": mapping(STR, keys=names)}),
                         world)
        verdict = expect(output, shape, "what FSDP training returned")
        if not verdict.passed:
            return verdict
        from aisys.parallel.data_parallel.memprobe import live_bytes

        measured = {bool(info["memory"]) for out in output for info in out["steps"]}
        if len(measured) > 1 or (live_bytes() is not None and measured != {True}):   # same machine as the ranks
            return fail("the heap was not measured on every rank and step (memprobe tampered with?)")
        for rank, out in enumerate(output):
            verdict = self._judge_rank(case, rank, out, shapes, model)
            if not verdict.passed:
                return verdict
        return self._judge_values(case, output, names)

    def _judge_rank(self, case, rank, out, shapes, model):
        p, world = case.inputs, case.inputs["world"]
        if not out["stable"]:
            return fail(f"rank {rank}: FSDP must keep the model at .module and yield the same Parameter objects "
                        "(those of the module) from construction on; an optimizer built after wrapping holds them")
        sharded = set()
        for name, shape in shapes.items():
            numel, got = _numel(shape), out["local"][name]
            most = max(-(-numel // world), -(-shape[0] // world) * (numel // shape[0]) if shape else 1)
            if got <= most and got < numel:          # a flat slice, or a block of rows (FSDP2's dim-0 shards)
                sharded.add(name)
            elif len(shape) > 1 or got != numel:
                return fail(f"rank {rank}: after wrapping, {name} holds {got} elements of its {numel}: a weight matrix "
                            f"must be sharded (at most ceil(numel/{world}) elements, or ceil(rows/{world}) rows, "
                            "per rank); a 1-D parameter is either sharded or kept whole")
        for name, dtype in out["full_dtypes"].items():
            if dtype != "torch.float32":
                return fail(f"rank {rank}: full_parameters()[{name!r}] is {dtype}; it gathers the fp32 master weights "
                            "(the compute dtype is for the all-gathers before forward and backward)")
        for index, info in enumerate(out["steps"]):
            where = f"rank {rank}, step {index}"
            if info["grads"]:
                return fail(f"{where}: after finish_gradient_synchronization(), {info['grads']}")
            want = "torch.float32" if p["dtype"] == "float32" else f"torch.{p['dtype']}"
            if info["out_dtype"] != want:
                return fail(f"{where}: the model's output is {info['out_dtype']}; with compute_dtype="
                            f"{DTYPES[p['dtype']]} every unit computes in {want}")
            verdict = judge_structure(where, info["events"], model, shapes, sharded, p["dtype"], out["local"])
            if not verdict.passed:
                return verdict
        labels = [f"{what}:{i}" for what, i in expected_marks(len(units_of(model)))]
        if any(info["memory"] and [label for label, _ in info["memory"]] != labels for info in out["steps"]):
            return fail(f"rank {rank}: the memory samples do not follow the units' forward and backward")
        measured = [judge_memory(f"rank {rank}, step {i}", info["memory"], model, out["local"], p["dtype"])
                    for i, info in enumerate(out["steps"]) if i and info["memory"]]   # step 0 warms caches up
        if measured and not any(v.passed for v in measured):      # a leak shows in every step; noise (gloo frees
            # late, on its own thread) in some: four measured steps, one clean one passes
            return measured[-1]
        return PASS

    def _judge_values(self, case, output, names):
        from aisys.parallel.data_parallel.toys import make_stack, toy_batches, train_single_process

        p = case.inputs
        model, losses = train_single_process(make_stack(p["seed"], width=p["width"], depth=p["depth"]),
                                             toy_batches(p["seed"] + 1, p["steps"], p["batch"]), p["lr"],
                                             _dtype(DTYPES[p["dtype"]]), p["world"])
        truth = {name: q.detach().numpy() for name, q in model.named_parameters()}
        rtol, atol = TOLERANCE[p["dtype"]]
        for rank, out in enumerate(output):
            for step, info in enumerate(out["steps"]):
                verdict = close(info["loss"], losses[step][rank], rtol=rtol, atol=atol,
                                what=f"rank {rank}'s loss on its shard of the batch at step {step}")
                if not verdict.passed:
                    return verdict
            for name in names:
                verdict = close(out["full"][name], truth[name], rtol=rtol, atol=atol,
                                what=f"rank {rank}'s full_parameters()[{name!r}] after {p['steps']} steps, compared "
                                     f"with one process on the full batch (compute dtype {p['dtype']})")
                if not verdict.passed:
                    return verdict
        return PASS


def _numel(shape: tuple) -> int:
    out = 1
    for d in shape:
        out *= d
    return out


def _unit_params(model) -> list[list[str]]:
    names = {id(q): n for n, q in model.named_parameters()}
    return [[names[id(q)] for q in unit.parameters()] for unit in units_of(model)]


def expected_marks(n_units: int) -> list[tuple[str, int]]:
    """The bench's hook marks of one step, in the order they fire."""
    forward = [(what, i) for i in range(n_units)
               for what in ("fwd-before", "fwd-gathered", "fwd-computed", "fwd-after")]
    return forward + [("backward", -1)] + [("bwd-before", i) for i in reversed(range(n_units))] + \
        [("sync", -1), ("synced", -1)]


def judge_structure(where, events, model, shapes, sharded, dtype, local):
    """An all-gather before each unit's forward and again before its backward; one reduce-scatter per unit."""
    size = 4 if dtype == "float32" else 2
    units = _unit_params(model)
    marks = [(what, arg) for what, arg, _ in events if what not in ("ag", "rs", "ar")]
    if marks != expected_marks(len(units)):
        return fail(f"{where}: the units' forward and backward did not run in order through their hooks "
                    "(every unit once forward, once backward in reverse)")
    fwd, bwd, rs, ar = [], [], 0, 0
    phase, seen_fwd, seen_bwd = "fwd", [], []
    for what, arg, _ in events:
        if what == "backward":
            phase = "bwd"
        elif what == "fwd-before":
            seen_fwd.append(len(fwd))
        elif what == "bwd-before":
            seen_bwd.append(len(bwd))
        elif what == "ag":
            (fwd if phase == "fwd" else bwd).append(arg)
        elif what == "rs":
            rs += 1
        elif what == "ar":
            ar += arg
    n = len(units)
    if len(fwd) != n or len(bwd) != n:
        return fail(f"{where}: {len(fwd)} all-gathers in forward and {len(bwd)} in backward for {n} units: each "
                    "unit gathers its shards once (one all-gather) before its forward and once before its backward")
    if any(not k <= count <= k + 1 for k, count in enumerate(seen_fwd)) or \
            any(not k <= count <= k + 1 for k, count in enumerate(seen_bwd)):
        return fail(f"{where}: the all-gathers do not follow the units — gather each unit just before it runs "
                    "(at most one unit ahead), forward in order and backward in reverse, not all at once")
    want = sum(local[name] * size for unit in units for name in unit if name in sharded)
    for label, got in (("forward", sum(fwd)), ("backward", sum(bwd))):
        if not 0.97 * want - 64 <= got <= 1.03 * want + 64 * n:      # padding may travel too
            return fail(f"{where}: the {label} all-gathers carried {got} bytes from this rank; its shards of the "
                        f"sharded parameters are {want} bytes in {dtype} ({magnitude(got - want)} off)"
                        + (" — cast to the compute dtype before communicating" if dtype != "float32" else ""))
    if rs != n:
        return fail(f"{where}: {rs} reduce-scatters for {n} units; reduce each unit's gradients with one "
                    "reduce-scatter (every rank keeps only the average of its own shard)")
    replicated = sum(_numel(shapes[name]) * 4 for name in shapes if name not in sharded)
    if ar > replicated:
        return fail(f"{where}: {ar} bytes were all-reduced; only replicated parameters' gradients "
                    f"({replicated} bytes) may be: sharded gradients are reduce-scattered")
    return PASS


def judge_memory(where, samples, model, local, dtype):
    """Full-size weights live on this rank: about one unit at a time, measured on the heap.

    Samples are noisy by up to a unit (gloo frees its buffers on its own thread), so the
    bounds allow ~3 units at any moment — a model gathered all at once holds all of them —
    and a big unit may keep under half its weights' bytes after its forward (its activations
    are far less; the median over units ignores a spike): weights kept alive by autograd's
    saved views (freed by reference only) keep all of them.
    """
    size = 4 if dtype == "float32" else 2
    weights = [sum(_numel(tuple(q.shape)) for q in unit.parameters()) * size for unit in units_of(model)]
    allowed = 3.2 * max(weights) + SLACK
    at = dict((label, value) for label, value in samples)
    kept, retained = 0, []                        # what finished units keep for backward
    for index, unit_bytes in enumerate(weights):
        before, after = at[f"fwd-before:{index}"], at[f"fwd-after:{index}"]
        peak = max(before, at.get(f"fwd-gathered:{index}", before), at.get(f"fwd-computed:{index}", before), after)
        if peak - kept > allowed:
            return fail(f"{where}: while unit {index} ran forward, {peak - kept} bytes were live besides "
                        f"activations — several units of full weights (the largest is {max(weights)} bytes); "
                        "gather each unit just before its forward and free it after")
        kept += max(0, after - before)
        if unit_bytes >= 16 * 1024:
            retained.append((after - before) / unit_bytes)
    if retained and sorted(retained)[len(retained) // 2] > 0.5:
        return fail(f"{where}: a unit keeps about {sorted(retained)[len(retained) // 2]:.0%} of its full weights' "
                    "bytes after its forward: they were not freed — autograd keeps views of them, so free the "
                    "memory itself (resize the storage to 0), not just your reference")
    grads = sum(local.values()) * 4
    for label, value in samples:
        if label.startswith("bwd-before") and value > kept + grads + allowed:
            return fail(f"{where}: during backward ({label.split(':')[0]} unit {label.split(':')[1]}) {value} bytes "
                        "were live: several units of full weights at once; gather each unit just before its "
                        "backward and free it after its reduce-scatter")
    if at.get("synced:-1", 0) > 1.2 * grads + max(weights) + SLACK:
        return fail(f"{where}: after finish_gradient_synchronization() this rank holds {at['synced:-1']} bytes more "
                    f"than before forward; its gradient shards are {grads} bytes — full weights or full gradients "
                    "were kept after backward")
    return PASS
