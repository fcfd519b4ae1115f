"""Checks of gpipe_schedule and one_f_one_b_schedule, by properties — never by a reference order.

In the grading parent each returned schedule is (1) complete: every stage runs each micro-
batch's F and B exactly once; (2) runnable: replayed ASAP with the case's forward and backward
times it never deadlocks; (3) as fast as a pipeline can be: its step time equals
(m + p − 1)(t_F + t_B); and (4) true to its kind: GPipe runs all forwards before any backward,
1F1B never holds more than p − s micro-batches on stage s. Any order with these properties
scores — GPipe's backwards in reverse, say. Every seed carries m ≥ 2p (where holding all
activations shows) with t_B ≠ t_F, and the corners p = 1, m = 1, m < p.
"""
from __future__ import annotations

from aisys.grading.compare import close
from aisys.grading.shapes import INT, list_of, one_of, tuple_of
from aisys.grading.spec import PASS, ExerciseCheck, fail
from aisys.parallel.pipeline_parallel import casekit as kit
from aisys.parallel.pipeline_parallel.simulate import (ScheduleProblem, completeness, in_flight, makespan_law,
                                                       simulate, steps_of)

STEP = tuple_of(one_of("F", "B"), INT)
SCHEDULE = list_of(list_of(STEP))


class _ScheduleCheck(ExerciseCheck):
    kind = ""

    def cases(self, rng):
        sizes = [("p4-m8-backward-twice-forward", 4, 8, 1, 2), ("p2-m6", 2, 6, 2, 3), ("p3-m3", 3, 3, 1, 1),
                 ("fewer-micro-batches-than-stages", 4, 2, 1, 2), ("one-micro-batch", 3, 1, 1, 1),
                 ("one-stage", 1, 4, 1, 2), ("one-of-each", 1, 1, 1, 1)]
        for k in range(2):
            p = int(rng.integers(2, 6))
            sizes.append((f"random-{k}", p, int(rng.integers(p, 3 * p + 1)), int(rng.integers(1, 4)),
                          int(rng.integers(1, 4))))
        cases = [kit.pure_case(name, {"p": p, "m": m, "t_f": tf, "t_b": tb}) for name, p, m, tf, tb in sizes]
        for name, p, m in (("zero-stages", 0, 3), ("zero-micro-batches", 3, 0), ("negative-micro-batches", 2, -1)):
            cases.append(kit.pure_case(name, {"p": p, "m": m, "refuse": True}))
        return cases

    def run(self, case, student):
        args = (case.inputs["p"], case.inputs["m"])
        return kit.pure_call(case, student.get(self.exercise), args, self.exercise, SCHEDULE,
                             'a list with one list of ("F", i) / ("B", i) steps per stage')

    def judge(self, case, output):
        p, m = case.inputs["p"], case.inputs["m"]
        call = kit.call_text(self.exercise, p, m)
        if case.inputs.get("refuse"):
            return kit.judge_refusal(output, call, "n_stages < 1 or n_micro < 1")
        verdict = kit.pure_output(output, list_of(list_of(STEP), n=p), call)
        if not verdict.passed:
            return verdict
        schedule = steps_of(output[0]["value"])
        problem = completeness(schedule, m)
        if problem:
            return fail(f"{call}: {problem}")
        try:
            timeline = simulate(schedule, case.inputs["t_f"], case.inputs["t_b"])
        except ScheduleProblem as err:
            return fail(f"{call}: {err}")
        problem = self.kind_problem(schedule, p, m)
        if problem:
            return fail(f"{call}: {problem}")
        law = makespan_law(p, m, case.inputs["t_f"], case.inputs["t_b"])
        if not close(timeline.makespan, law, rtol=1e-12, atol=1e-9).passed:
            return fail(f"{call}: replayed with t_F={case.inputs['t_f']}, t_B={case.inputs['t_b']}, the step takes "
                        "longer than a pipeline must — some stage idles waiting where a better order would let "
                        "it work (more bubble than (p − 1)(t_F + t_B))")
        return PASS

    def kind_problem(self, schedule: list, p: int, m: int) -> str | None:
        raise NotImplementedError


class GPipeScheduleCheck(_ScheduleCheck):
    exercise = "gpipe_schedule"
    hint = "every stage: F(0) … F(m−1), then the m backwards; ValueError when p or m is below 1"

    def kind_problem(self, schedule, p, m):
        for s, stage in enumerate(schedule):
            kinds = [kind for kind, _ in stage]
            if "F" in kinds[kinds.index("B"):]:
                return (f"stage {s} runs a forward after a backward — GPipe runs all m forwards, then all "
                        "backwards (interleaving them is 1F1B)")
        return None


class OneFOneBScheduleCheck(_ScheduleCheck):
    exercise = "one_f_one_b_schedule"
    hint = ("stage s: warm up with min(p − s − 1, m) forwards, then F(warmup + k), B(k) pairs, then the "
            "remaining backwards; at most p − s micro-batches in flight")

    def kind_problem(self, schedule, p, m):
        for s, stage in enumerate(schedule):
            held = in_flight(stage)
            if held > p - s:
                return (f"stage {s} holds {held} micro-batches' activations at once (forwarded, not yet "
                        f"backwarded); 1F1B keeps at most p − s = {p - s} there — start backwards sooner")
        return None


CHECKS = [GPipeScheduleCheck(), OneFOneBScheduleCheck()]
