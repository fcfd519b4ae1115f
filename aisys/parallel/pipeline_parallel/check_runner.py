"""Check of PipelineRunner: real ranks run a schedule the grader chose, k training steps.

Each rank builds its stage, wraps it in the student's runner with the case's schedule (GPipe
with forward- or reverse-order backwards, or 1F1B — built by the bench, never by the student's
own schedule functions), and trains k steps with SGD + momentum, zeroing gradients between
steps. A `StageWatch` on the stage records what really ran. The parent then judges:

- values: every rank's parameters after k steps (and the last rank's loss at every step) equal
  one process training the whole model on whole batches — gradient accumulation over the m
  micro-batches, with each micro-batch's loss scaled by 1/m;
- order: the forwards and backwards the stage computed are its schedule's, in its order;
- messages: the CommLog holds exactly the schedule's p2p traffic — per micro-batch one
  activation in from s − 1 and out to s + 1, one gradient in from s + 1 and out to s − 1;
- memory: the micro-batches alive at once equal the schedule's in-flight peak (GPipe m, 1F1B
  at most p − s), none outlives its backward by more than one step, none outlives the step.
"""
from __future__ import annotations

from aisys.grading.shapes import BOOL, INT, NUMBER, array, dict_of, expect, list_of, one_of, optional, per_rank, \
    tuple_of
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail
from aisys.parallel.pipeline_parallel import casekit as kit, stagekit as sk
from aisys.parallel.pipeline_parallel.canonical import BUILDERS
from aisys.parallel.pipeline_parallel.simulate import in_flight

STEPS = 2
STEP = dict_of({"loss": optional(NUMBER), "comm": kit.COMM, "intact": BOOL,
                "trace": list_of(tuple_of(one_of("F", "B"), INT)), "peak": INT, "stale": INT, "kept": INT})
OUTPUT = dict_of({"params": list_of(array()), "steps": list_of(STEP, n=STEPS)})


def _case(name: str, rng, world: int, schedule: str, n_micro: int, loss: str) -> Case:
    micro_rows = int(rng.integers(1, 4))
    return Case(name, {**sk.spec(rng, world, micro_rows * n_micro, loss), "schedule": schedule,
                       "n_micro": n_micro, "steps": STEPS})


def expected_trace(steps: list) -> list[list]:
    """The schedule's steps as the StageWatch sees them: ["F", k] / ["B", k], k = which forward call."""
    order = [i for kind, i in steps if kind == "F"]
    return [[kind, order.index(i)] for kind, i in steps]


def describe_step(kind: str, k: int, steps: list) -> str:
    micro = [i for step_kind, i in steps if step_kind == "F"]
    return f"{kind}{micro[k]}" if 0 <= k < len(micro) else f"{kind}?"


class PipelineRunnerCheck(ExerciseCheck):
    exercise = "PipelineRunner"
    hint = ("follow schedule[rank()] step by step; isend activations/gradients (blocking sends deadlock in 1F1B), "
            "recv into fresh buffers; loss_i / m on the last rank; never zero .grad between micro-batches; "
            "drop micro-batch i's tensors and its send handle at B(i)")
    case_timeout = 20.0

    def cases(self, rng):
        return [_case("w4-1f1b", rng, 4, "1f1b", 8, "l1"),
                _case("w2-gpipe", rng, 2, "gpipe", 4, "mse"),
                _case("w4-gpipe-reversed", rng, 4, "gpipe-reversed", 4, "smooth_l1"),
                _case("w2-1f1b", rng, 2, "1f1b", 6, "mse"),
                _case("w4-1f1b-fewer-micro-batches", rng, 4, "1f1b", 2, "mse"),
                _case("w2-1f1b-one-micro-batch", rng, 2, "1f1b", 1, "mse")]

    def run(self, case, student):
        import torch

        from aisys.parallel.commlog import comm_log
        from aisys.parallel.pipeline_parallel.model import batches, loss_fn, make_optimizer
        from aisys.parallel.pipeline_parallel.tracker import StageWatch

        inp = case.inputs
        stage, rank, world, device = sk.my_stage(inp)
        schedule = BUILDERS[inp["schedule"]](world, inp["n_micro"])
        watch = StageWatch(stage, first_stage=rank == 0)
        runner = student.get(self.exercise)(stage, schedule, inp["hidden"], loss_fn(inp["loss"]))
        optimizer = make_optimizer(stage.parameters(), inp)
        steps = []
        for inputs, targets in batches(inp, inp["steps"]):
            inputs, targets = inputs.to(device), targets.to(device)
            before = (inputs.clone(), targets.clone())
            optimizer.zero_grad()
            watch.begin_step()
            with comm_log().capture() as recs:
                loss = runner.step(inputs, targets)
            loss = sk.read_loss(loss, rank == world - 1, "PipelineRunner.step")
            seen = watch.end_step()
            steps.append({"loss": loss, "comm": kit.comm_records(recs), **seen,
                          "intact": bool(torch.equal(inputs, before[0]) and torch.equal(targets, before[1]))})
            optimizer.step()
        watch.close()
        return {"params": sk.arrays(stage.parameters()), "steps": steps}

    def judge(self, case, output):
        from aisys.parallel.pipeline_parallel.model import param_count, single_process

        inp, world = case.inputs, case.inputs["world"]
        verdict = expect(output, per_rank(OUTPUT, world), "the runner's results")
        if not verdict.passed:
            return verdict
        schedule = BUILDERS[inp["schedule"]](world, inp["n_micro"])
        nbytes = inp["rows"] // inp["n_micro"] * inp["hidden"] * 8
        for r, got in enumerate(output):
            if len(got["params"]) != param_count(inp, r):
                return fail(f"rank {r} reported {len(got['params'])} parameters; its stage has {param_count(inp, r)}")
            for k, step in enumerate(got["steps"]):
                problem = self.step_problem(step, schedule[r], r, world, nbytes)
                if problem:
                    return fail(f"{inp['schedule']} schedule, step {k + 1}: {problem}")
        truth = single_process(inp, inp["steps"])
        for k, want in enumerate(truth["losses"]):
            verdict = sk.judge_loss(output[-1]["steps"][k]["loss"], want, f"at step {k + 1} (compared with one "
                                    "process on the whole batch)")
            if not verdict.passed:
                return verdict
        for r, got in enumerate(output):
            verdict = sk.judge_tensors(got["params"], truth["params"][r], r, f"value after {inp['steps']} steps")
            if not verdict.passed:
                return fail(f"{verdict.message} — compared with one process training on whole batches (are the "
                            "micro-batch gradients accumulated, each loss divided by m?)")
        return PASS

    @staticmethod
    def step_problem(step: dict, steps: list, rank: int, world: int, nbytes: int) -> str | None:
        want = expected_trace(steps)
        got = [list(e) for e in step["trace"]]
        if got != want:
            at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            if at >= len(got):
                return (f"rank {rank}'s stage computed {len(got)} of its schedule's {len(want)} steps (forward calls "
                        "as stage(x), backwards reaching its output)")
            ran = describe_step(got[at][0], got[at][1], steps) if at < len(got) else "nothing"
            return (f"rank {rank}'s step {at + 1} was {ran}; its schedule says "
                    f"{describe_step(want[at][0], want[at][1], steps)} (run schedule[rank] in order, one forward "
                    "per micro-batch)")
        if not step["intact"]:
            return f"rank {rank} changed the inputs or targets it was handed"
        count = sum(1 for kind, _ in steps if kind == "F")
        problem = kit.comm_problem(rank, step["comm"], sk.neighbour_messages(rank, world, count, nbytes), "the step")
        if problem:
            return problem
        if step["stale"] > 0:
            return (f"rank {rank} still held the activations of {step['stale']} micro-batch(es) after their "
                    "backward (and after a later one) — a stash entry or a send handle keeps the memory alive; "
                    "drop them at B(i)")
        if step["kept"] > 0:
            return f"rank {rank} still held {step['kept']} micro-batch(es)' activations after step() returned"
        if step["peak"] != in_flight(steps):
            return (f"rank {rank} held {step['peak']} micro-batches' activations at once; its schedule has "
                    f"{in_flight(steps)} in flight at most")
        return None


CHECKS = [PipelineRunnerCheck()]
