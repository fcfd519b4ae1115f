"""Checks for the parameter server: sync == SGD on the mean gradient; async converges; pull counts."""
from __future__ import annotations

import math

import numpy as np

from aisys.grading.compare import close
from aisys.grading.shapes import INT, array, dict_of, expect, per_rank
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail

DIM = 6


def quadratics(seed: int, workers: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Worker w's loss ½(x − c_w)ᵀ A_w (x − c_w), A_w symmetric with eigenvalues in [0.5, 2]."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(workers):
        q, _ = np.linalg.qr(rng.normal(size=(DIM, DIM)))
        out.append((q @ np.diag(rng.uniform(0.5, 2.0, size=DIM)) @ q.T, rng.normal(size=DIM)))
    return out


def simulate_async(problems: list, lr: float, steps: int, staleness: int) -> np.ndarray:
    """The asynchronous protocol replayed in one process: workers refresh their copy every
    staleness+1 steps; the server applies each worker's gradient on its own, in rank order."""
    x = np.zeros(DIM)
    copies = [x.copy() for _ in problems]
    for step in range(steps):
        if step % (staleness + 1) == 0:
            copies = [x.copy() for _ in problems]
        for (a, c), copy in zip(problems, copies):
            x = x - lr * (a @ (copy - c))
    return x


class ParameterServerCheck(ExerciseCheck):
    exercise = "ParameterServer"
    hint = ("rank 0 sends params / receives one gradient per worker in rank order; sync: one step with the mean; "
            "async: one step per gradient, and workers pull only when step % (staleness+1) == 0; finish with one "
            "more send of the parameters")

    def cases(self, rng):
        def case(name, world, mode, steps, lr, staleness=0):
            return Case(name, {"world": world, "mode": mode, "steps": steps, "lr": lr, "staleness": staleness,
                               "seed": int(rng.integers(1 << 30))})
        return [case("w2-sync", 2, "sync", 8, 0.1), case("w4-sync", 4, "sync", 8, 0.1),
                case("w2-async-stale2", 2, "async", 40, 0.15, 2), case("w4-async-stale2", 4, "async", 40, 0.05, 2)]

    def run(self, case, student):
        import torch

        from aisys.parallel import comm, context

        p = case.inputs
        problems = quadratics(p["seed"], context.world_size() - 1)

        def grad_fn(x, rank):
            a, c = problems[rank - 1]
            return torch.as_tensor(a) @ (x - torch.as_tensor(c))

        server = student.get("ParameterServer")(torch.zeros(DIM, dtype=torch.float64), lr=p["lr"], mode=p["mode"],
                                                staleness=p["staleness"])
        with comm.comm_log().capture() as records:
            final = server.run(grad_fn, p["steps"])
        from aisys.grading.shapes import require

        require(final, torch.Tensor, "ParameterServer.run", "the final parameters (a tensor)")
        return {"final": final, "sends": sum(r["op"] == "send" for r in records),
                "recvs": sum(r["op"] == "recv" for r in records)}

    def judge(self, case, output):
        p, world = case.inputs, case.inputs["world"]
        verdict = expect(output, per_rank(dict_of({"final": array((DIM,)), "sends": INT, "recvs": INT}), world),
                         "what ParameterServer.run returned")
        if not verdict.passed:
            return verdict
        problems = quadratics(p["seed"], world - 1)
        workers = world - 1
        if p["mode"] == "sync":                          # ground truth: SGD on the mean gradient
            x = np.zeros(DIM)
            for _ in range(p["steps"]):
                x = x - p["lr"] * np.mean([a @ (x - c) for a, c in problems], axis=0)
            pulls = p["steps"] + 1
        else:
            x = simulate_async(problems, p["lr"], p["steps"], p["staleness"])
            pulls = math.ceil(p["steps"] / (p["staleness"] + 1)) + 1
        a_sum = sum(a for a, _ in problems)
        optimum = np.linalg.solve(a_sum, sum(a @ c for a, c in problems))
        for rank, out in enumerate(output):
            want = (workers * pulls, p["steps"] * workers) if rank == 0 else (p["steps"], pulls)
            if (out["sends"], out["recvs"]) != want:
                role = "the server" if rank == 0 else f"worker {rank}"
                return fail(f"{role} made {out['sends']} sends and {out['recvs']} receives; the {p['mode']} "
                            f"protocol with staleness {p['staleness']} makes a different number (pulls happen "
                            "every staleness+1 steps, plus one final pull)")
            final = np.asarray(out["final"], dtype=float)
            if p["mode"] == "async":                     # property first: it reaches the optimum
                err = float(np.linalg.norm(final - optimum) / np.linalg.norm(optimum))
                if err >= 0.02:
                    return fail(f"rank {rank}: after {p['steps']} asynchronous steps the parameters are still "
                                f"{err:.3g} (relative) from the optimum — it should converge with this small step")
            what = (f"rank {rank}'s parameters after {p['steps']} synchronous steps, compared with plain SGD"
                    if p["mode"] == "sync" else
                    f"rank {rank}'s parameters after {p['steps']} asynchronous steps, compared with the protocol "
                    "replayed in one process (one update per gradient, in rank order, on stale copies)")
            verdict = close(final, x, rtol=1e-9, atol=1e-12, what=what)
            if not verdict.passed:
                return verdict
        return PASS
