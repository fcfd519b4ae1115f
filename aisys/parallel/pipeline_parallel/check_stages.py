"""Check of split_stages: a valid contiguous cut whose slowest stage is the optimum.

Truth is exhaustive search in the grading parent: every way to place the p − 1 cuts among the
L − 1 gaps (at most a few tens of thousands here). Any optimal cut passes — ties are common —
so the student's slowest stage is compared with the smallest possible, never with a reference
cut. Every seed carries the corners: costs that fool a greedy fill and an equal-count split,
equal costs, zero costs, one layer per stage, one stage, and the refusals.
"""
from __future__ import annotations

import itertools

from aisys.grading.compare import close
from aisys.grading.shapes import BOOL, INT, list_of
from aisys.grading.spec import PASS, ExerciseCheck, fail
from aisys.parallel.pipeline_parallel import casekit as kit

FIXED = (("greedy-trap", [3, 3, 4], 2), ("equal-count-trap", [1, 1, 1, 9], 2),
         ("fill-trap", [2, 7, 2, 2, 2, 2, 2, 6], 3), ("equal-costs", [2] * 7, 3),
         ("zero-costs", [0, 5, 0, 0, 3, 0, 2, 0], 4))


def optimum(costs: list[float], n_stages: int) -> float:
    """The smallest possible slowest stage, by trying every cut."""
    prefix = list(itertools.accumulate(costs, initial=0.0))
    best = float("inf")
    for cuts in itertools.combinations(range(1, len(costs)), n_stages - 1):
        edges = (0, *cuts, len(costs))
        best = min(best, max(prefix[b] - prefix[a] for a, b in zip(edges[:-1], edges[1:])))
    return best


class SplitStagesCheck(ExerciseCheck):
    exercise = "split_stages"
    hint = ("exact, not greedy: best[k][j] = min over i of max(best[k−1][i], cost of layers i..j−1); "
            "every stage non-empty; ValueError for n_stages < 1, more stages than layers, a negative cost")

    def cases(self, rng):
        def ints(low: int, high: int, n: int) -> list[int]:
            return [int(c) for c in rng.integers(low, high, n)]

        cases = [kit.pure_case(name, {"costs": costs, "stages": p}) for name, costs, p in FIXED]
        n = int(rng.integers(3, 9))
        cases.append(kit.pure_case("one-layer-per-stage", {"costs": ints(1, 10, n), "stages": n}))
        cases.append(kit.pure_case("one-stage", {"costs": ints(0, 10, int(rng.integers(2, 8))), "stages": 1}))
        dominant = ints(1, 4, 9)
        dominant[int(rng.integers(0, 9))] = 40
        cases.append(kit.pure_case("one-dominant-layer", {"costs": dominant, "stages": 3}))
        for k in range(2):
            cases.append(kit.pure_case(f"random-{k}", {"costs": ints(1, 20, int(rng.integers(6, 13))),
                                                       "stages": int(rng.integers(2, 5))}))
        floats = [round(float(c), 3) for c in rng.uniform(0.1, 5.0, 10)]
        cases.append(kit.pure_case("random-floats", {"costs": floats, "stages": int(rng.integers(2, 5))}))
        cases.append(kit.pure_case("random-long", {"costs": ints(1, 50, 22), "stages": 5}, weight=2.0))
        n = int(rng.integers(1, 5))
        cases.append(kit.pure_case("more-stages-than-layers", {"costs": ints(1, 9, n),
                                                               "stages": n + int(rng.integers(1, 4)), "refuse": True}))
        cases.append(kit.pure_case("no-layers", {"costs": [], "stages": 1, "refuse": True}))
        cases.append(kit.pure_case("zero-stages", {"costs": [1, 2, 3], "stages": 0, "refuse": True}))
        cases.append(kit.pure_case("negative-cost", {"costs": [2, -1, 3, 4], "stages": 2, "refuse": True}))
        return cases

    def run(self, case, student):
        costs = list(case.inputs["costs"])
        out = kit.pure_call(case, student.get(self.exercise), (costs, case.inputs["stages"]), self.exercise,
                            list_of(list_of(INT)), "a list of stages, each a list of layer indices")
        return out if case.inputs.get("refuse") else {**out, "intact": costs == case.inputs["costs"]}

    def judge(self, case, output):
        costs, p = case.inputs["costs"], case.inputs["stages"]
        call = kit.call_text(self.exercise, costs, p)
        if case.inputs.get("refuse"):
            why = {"more-stages-than-layers": f"more stages ({p}) than layers ({len(costs)})",
                   "no-layers": "no layers at all",
                   "zero-stages": "n_stages < 1", "negative-cost": "a negative layer cost"}[case.id]
            numbers = (0,) if case.id == "zero-stages" else (min(costs),) if case.id == "negative-cost" \
                else (len(costs), p)
            return kit.judge_refusal(output, call, why, numbers)
        verdict = kit.pure_output(output, list_of(list_of(INT)), call, {"intact": BOOL})
        if not verdict.passed:
            return verdict
        stages, intact = output[0]["value"], output[0]["intact"]
        if not intact:
            return fail(f"{call} changed the list of costs it was handed (sort or pop a copy, not the caller's list)")
        problem = layout_problem(stages, len(costs), p)
        if problem:
            return fail(f"{call}: {problem}")
        sums = [sum(costs[i] for i in stage) for stage in stages]
        slowest = max(range(p), key=lambda s: sums[s])
        if not close(sums[slowest], optimum([float(c) for c in costs], p), rtol=1e-9, atol=1e-9).passed:
            return fail(f"{call}: the slowest stage (stage {slowest}, cost {sums[slowest]:g}) is not the smallest "
                        "possible — another contiguous cut has a faster slowest stage")
        return PASS


def layout_problem(stages: list, n_layers: int, n_stages: int) -> str | None:
    """None, or why `stages` is not a cut of layers 0..L−1 into n_stages non-empty runs."""
    if len(stages) != n_stages:
        return f"returned {len(stages)} stages, not {n_stages}"
    for s, stage in enumerate(stages):
        if not stage:
            return f"stage {s} is empty (every stage needs at least one layer)"
        if list(stage) != list(range(stage[0], stage[0] + len(stage))):
            return f"stage {s} is not a contiguous run of layers ({stage[:6]})"
    flat = [i for stage in stages for i in stage]
    if flat != list(range(n_layers)):
        return f"the stages, in order, do not hold layers 0..{n_layers - 1} each exactly once"
    return None


CHECKS = [SplitStagesCheck()]
