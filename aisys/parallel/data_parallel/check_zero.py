"""Checks for the ZeRO paper's numbers: memory per device and communication per step."""
from __future__ import annotations

from aisys.grading.compare import close, off_by
from aisys.grading.shapes import NUMBER, expect, per_rank
from aisys.grading.spec import PASS, Case, ExerciseCheck, Verdict, fail


def judge_scalar(output: list, want: float, call: str, unit: str, *, world: int, rtol: float,
                 atol: float) -> Verdict:
    """A pure function's one number (every rank computes it) against the formula's."""
    verdict = expect(output, per_rank(NUMBER, world), f"what {call} returned")
    if not verdict.passed:
        return verdict
    if any(value != output[0] for value in output):
        return fail(f"{call} returned different values on different ranks for the same arguments")
    got = output[0]
    if close(got, want, rtol=rtol, atol=atol).passed:
        return PASS
    return fail(off_by(got, want, f"the result of {call}", unit))


class ZeroMemory(ExerciseCheck):
    exercise = "zero_memory"
    hint = ("weights 2Ψ + gradients 2Ψ + optimizer KΨ bytes; stage s divides the first s of (states, grads, weights) "
            "by N_d")

    def cases(self, rng):
        paper = [Case(f"paper-stage{s}", {"world": 2, "psi": 7.5e9, "n_d": 64, "stage": s, "k": 12}) for s in range(4)]
        return paper + [Case(f"random-stage{s}", {"world": 2, "psi": float(rng.integers(1, 200)) * 1e8,
                                                   "n_d": int(rng.choice([4, 8, 16, 128])), "stage": s,
                                                   "k": 16 if s % 2 else int(rng.choice([12, 16]))})
                        for s in range(4)]   # k=16 at least twice: a hard-coded 12 cannot pass

    def run(self, case, student):
        from aisys.grading.shapes import require

        p = case.inputs
        got = student.get("zero_memory")(p["psi"], p["n_d"], p["stage"], k=p["k"])
        return float(require(got, NUMBER, "zero_memory", "a number (GB)"))

    def judge(self, case, output):
        p = case.inputs
        call = f"zero_memory(psi={p['psi']:.4g}, n_d={p['n_d']}, stage={p['stage']}, k={p['k']})"
        if case.id.startswith("paper"):   # the ZeRO paper's Figure 1, to its one decimal
            want = {0: 120.0, 1: 31.4, 2: 16.6, 3: 1.9}[p["stage"]]
            return judge_scalar(output, want, call, "GB", world=p["world"], rtol=0, atol=0.05)
        weights, grads, states = 2 * p["psi"], 2 * p["psi"], p["k"] * p["psi"]
        divided = [states, grads, weights][:p["stage"]]
        want = (weights + grads + states - sum(divided) + sum(divided) / p["n_d"]) / 1e9
        return judge_scalar(output, want, call, "GB", world=p["world"], rtol=1e-6, atol=1e-9)


class ZeroComm(ExerciseCheck):
    exercise = "zero_comm"
    hint = "reduce-scatter Ψ + all-gather Ψ per step; stage 3 gathers parameters once more"

    def cases(self, rng):
        return [Case(f"stage{s}", {"world": 2, "psi": float(rng.integers(1, 100)) * 1e7, "stage": s}) for s in range(4)]

    def run(self, case, student):
        from aisys.grading.shapes import require

        got = student.get("zero_comm")(case.inputs["psi"], case.inputs["stage"])
        return float(require(got, NUMBER, "zero_comm", "a number (elements)"))

    def judge(self, case, output):
        psi, stage = case.inputs["psi"], case.inputs["stage"]
        want = (3 if stage == 3 else 2) * psi
        call = f"zero_comm(psi={psi:.4g}, stage={stage})"
        return judge_scalar(output, want, call, "elements", world=case.inputs["world"], rtol=1e-9, atol=1e-6)
