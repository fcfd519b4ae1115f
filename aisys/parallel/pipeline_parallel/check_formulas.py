"""Checks of pipeline_bubble and pipeline_memory: the laws, on corners and seeded sizes.

Truth: the bubble (p − 1)/(m + p − 1) of GPipe's paper — which the parent also confirms on the
spot by replaying the bench's own GPipe schedule (1 − work / step time) — and the peak
activations of the two schedules (GPipe m on every stage, 1F1B min(p − s, m); Narayanan et
al. 2021), which the parent confirms by counting micro-batches in flight in the same replay.
"""
from __future__ import annotations

from aisys.grading.compare import close
from aisys.grading.shapes import NUMBER, list_of
from aisys.grading.spec import ExerciseCheck, fail
from aisys.parallel.pipeline_parallel import canonical, casekit as kit
from aisys.parallel.pipeline_parallel.simulate import bubble_law, in_flight, memory_law, simulate


def replayed_bubble(p: int, m: int) -> float:
    timeline = simulate(canonical.gpipe(p, m), 1.0, 2.0)
    return 1.0 - m * 3.0 / timeline.makespan


def replayed_memory(p: int, m: int, schedule: str) -> list[int]:
    build = canonical.gpipe if schedule == "gpipe" else canonical.one_f_one_b
    return [in_flight(stage) for stage in build(p, m)]


class PipelineBubbleCheck(ExerciseCheck):
    exercise = "pipeline_bubble"
    hint = "idle share of the step: (p − 1) / (m + p − 1); ValueError when p or m is below 1"

    def cases(self, rng):
        sizes = [("one-stage", 1, int(rng.integers(1, 9))), ("one-micro-batch", int(rng.integers(2, 9)), 1),
                 ("article-2-gpus", 2, 6), ("m-equals-p", 4, 4)]
        sizes += [(f"random-{k}", int(rng.integers(2, 9)), int(rng.integers(2, 33))) for k in range(2)]
        cases = [kit.pure_case(name, {"p": p, "m": m}) for name, p, m in sizes]
        for name, p, m in (("zero-stages", 0, 4), ("zero-micro-batches", 3, 0), ("negative-stages", -2, 4)):
            cases.append(kit.pure_case(name, {"p": p, "m": m, "refuse": True}))
        return cases

    def run(self, case, student):
        args = (case.inputs["p"], case.inputs["m"])
        return kit.pure_call(case, student.get(self.exercise), args, self.exercise, NUMBER, "a number (a share of time)")

    def judge(self, case, output):
        p, m = case.inputs["p"], case.inputs["m"]
        call = kit.call_text(self.exercise, p, m)
        if case.inputs.get("refuse"):
            return kit.judge_refusal(output, call, "n_stages < 1 or n_micro < 1")
        verdict = kit.pure_output(output, NUMBER, call)
        if not verdict.passed:
            return verdict
        truth = bubble_law(p, m)
        if abs(truth - replayed_bubble(p, m)) > 1e-12:   # the law and the replay must agree, or the bench is broken
            return fail(f"{call}: the grader's own replay disagrees with the law — please report this")
        return close(output[0]["value"], truth, rtol=1e-12, atol=1e-12, what=f"{call}")


class PipelineMemoryCheck(ExerciseCheck):
    exercise = "pipeline_memory"
    hint = "micro-batches in flight at the peak × act_bytes: GPipe m on every stage; 1F1B min(p − s, m), stage 0 first"

    def cases(self, rng):
        def size():
            return int(rng.integers(1, 64)) * 1024

        p, m = int(rng.integers(3, 6)), int(rng.integers(6, 12))
        sizes = [("gpipe", 4, 8), ("1f1b", 4, 8), ("1f1b-fewer-micro-batches", 4, 2), ("1f1b-one-stage", 1, 5),
                 ("gpipe-one-micro-batch", 3, 1), ("1f1b-random", p, m), ("gpipe-random", p, m)]
        cases = [kit.pure_case(name, {"p": p, "m": m, "schedule": name.split("-")[0], "bytes": size()})
                 for name, p, m in sizes]
        cases.append(kit.pure_case("1f1b-zero-bytes", {"p": p, "m": m, "schedule": "1f1b", "bytes": 0}))
        for name, p, m, schedule in (("unknown-schedule", 4, 8, "pipedream"), ("zero-stages", 0, 8, "1f1b"),
                                     ("zero-micro-batches", 3, 0, "gpipe")):
            cases.append(kit.pure_case(name, {"p": p, "m": m, "schedule": schedule, "bytes": size(), "refuse": True}))
        return cases

    def run(self, case, student):
        inp = case.inputs
        args = (inp["p"], inp["m"], inp["schedule"], inp["bytes"])
        return kit.pure_call(case, student.get(self.exercise), args, self.exercise, list_of(NUMBER),
                             "a list of peak bytes, one per stage")

    def judge(self, case, output):
        inp = case.inputs
        p, m, schedule, nbytes = inp["p"], inp["m"], inp["schedule"], inp["bytes"]
        call = kit.call_text(self.exercise, p, m, schedule, nbytes)
        if inp.get("refuse"):
            why = "an unknown schedule name" if schedule not in ("gpipe", "1f1b") else "n_stages < 1 or n_micro < 1"
            return kit.judge_refusal(output, call, why)
        verdict = kit.pure_output(output, list_of(NUMBER, n=p), call)
        if not verdict.passed:
            return verdict
        law = memory_law(p, m, schedule)
        if law != replayed_memory(p, m, schedule):
            return fail(f"{call}: the grader's own replay disagrees with the law — please report this")
        for s, (got, micro) in enumerate(zip(output[0]["value"], law)):
            verdict = close(got, micro * nbytes, rtol=0.0, atol=1e-6, what=f"{call}: stage {s}'s peak")
            if not verdict.passed:
                return verdict
        return verdict


CHECKS = [PipelineBubbleCheck(), PipelineMemoryCheck()]
