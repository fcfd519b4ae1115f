"""Check of naive_model_parallel on 2 and 4 real ranks: one batch there and back.

Truth is the whole model on one process (the grading parent, torch autograd): each rank's
stage gradients must equal the matching slice of the full model's gradients, and the last
rank's loss the full loss. Structure comes from each rank's CommLog: exactly one activation
from the previous rank and one to the next, one gradient back each way, each the size of one
(rows × hidden) activation — nothing else. The inputs must come back untouched.
"""
from __future__ import annotations

from aisys.grading.shapes import BOOL, NUMBER, array, dict_of, expect, list_of, optional, per_rank
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail
from aisys.parallel.pipeline_parallel import casekit as kit, stagekit as sk

OUTPUT = dict_of({"loss": optional(NUMBER), "grads": list_of(optional(array())), "comm": kit.COMM,
                  "intact": BOOL})


class NaiveModelParallelCheck(ExerciseCheck):
    exercise = "naive_model_parallel"
    hint = ("ranks > 0 receive a (rows, hidden) buffer and mark it requires_grad_(); send your output on, "
            "receive its gradient, output.backward(gradient); send your input's .grad back")

    def cases(self, rng):
        return [Case("w2-mse", sk.spec(rng, 2, int(rng.integers(3, 7)), "mse")),
                Case("w4-l1", sk.spec(rng, 4, int(rng.integers(3, 7)), "l1")),
                Case("w4-one-layer-stages", sk.spec(rng, 4, int(rng.integers(3, 7)), "smooth_l1", layers=4)),
                Case("w2-one-row", sk.spec(rng, 2, 1, "mse"))]

    def run(self, case, student):
        import torch

        from aisys.parallel.commlog import comm_log
        from aisys.parallel.pipeline_parallel.model import batches, loss_fn

        inp = case.inputs
        stage, rank, world, device = sk.my_stage(inp)
        inputs, targets = (t.to(device) for t in batches(inp, 1)[0])
        before = (inputs.clone(), targets.clone())
        fn = student.get(self.exercise)
        with comm_log().capture() as recs:
            loss = fn(stage, inputs, targets, inp["hidden"], loss_fn(inp["loss"]))
        loss = sk.read_loss(loss, rank == world - 1, self.exercise)
        return {"loss": loss, "grads": sk.arrays(p.grad for p in stage.parameters()),
                "comm": kit.comm_records(recs),
                "intact": bool(torch.equal(inputs, before[0]) and torch.equal(targets, before[1]))}

    def judge(self, case, output):
        from aisys.parallel.pipeline_parallel.model import single_process

        inp, world = case.inputs, case.inputs["world"]
        verdict = expect(output, per_rank(OUTPUT, world), "naive_model_parallel's results")
        if not verdict.passed:
            return verdict
        nbytes = inp["rows"] * inp["hidden"] * 8
        for r, got in enumerate(output):
            problem = kit.comm_problem(r, got["comm"], sk.neighbour_messages(r, world, 1, nbytes),
                                       "one forward and backward")
            if problem:
                return fail(problem)
            if not got["intact"]:
                return fail(f"rank {r} changed the inputs or targets it was handed (work on copies)")
        truth = single_process(inp, 1)
        verdict = sk.judge_loss(output[-1]["loss"], truth["losses"][0], "(compared with one process)")
        if not verdict.passed:
            return verdict
        for r, got in enumerate(output):
            verdict = sk.judge_tensors(got["grads"], truth["grads"][r], r, "gradient")
            if not verdict.passed:
                return verdict
        return PASS


CHECKS = [NaiveModelParallelCheck()]
