"""Check of tp_comm_volume against a real run, and against the count it implies at scale.

The "real-run" cases run one forward + backward of a small transformer stack parallelized
by torch itself (`parallelize_module` with Colwise/RowwiseParallel on a DeviceMesh) on the
case's ranks, and log every collective it dispatches (`torch_tp.TorchCollectives`). The
student's numbers must equal what was measured. The parent also re-derives the measured
numbers from the structure (4 all-reduces of batch·seq·hidden floats per layer), so the
large "at-scale" cases, which no machine here could run, are judged by the same law, and a
tampered measurement cannot pass.
"""
from __future__ import annotations

from aisys.grading.compare import close, equal
from aisys.grading.shapes import ANY, INT, dict_of, expect, mapping, per_rank
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail
from aisys.parallel.tensor_parallel.casekit import NONE

KEYS = ("all_reduces", "bytes", "ring_bytes_per_rank")


def measured_law(batch: int, seq: int, hidden: int, layers: int, element_size: int = 4) -> dict:
    """What the real runs show: per layer 2 forward + 2 backward all-reduces of (b, s, h) activations."""
    return {"all_reduces": 4 * layers, "bytes": 4 * layers * batch * seq * hidden * element_size}


class TPCommVolumeCheck(ExerciseCheck):
    exercise = "tp_comm_volume"
    hint = "count the f's and g's of one layer (attention + MLP), times layers; ring: 2(W−1)/W × bytes"
    case_timeout = 40.0   # the real run builds DTensors for the first time: seconds on 2 busy cores

    def cases(self, rng):
        cases = []
        heads = 2   # one real run (2 ranks, 2 layers): DTensor's first steps cost seconds here
        cases.append(Case("real-run-w2", {
            "world": 2, "batch": int(rng.integers(1, 3)), "seq": int(rng.integers(2, 5)),
            "hidden": heads * int(rng.integers(2, 4)), "heads": heads, "layers": 2, "real": True}, weight=3.0))
        for world, (batch, seq, hidden, layers), size in ((4, (8, 2048, 12288, 96), 2), (2, (4, 1024, 4096, 32), 4)):
            cases.append(Case(f"at-scale-{hidden}h-w{world}" + ("-bf16" if size == 2 else ""), {
                "world": world, "batch": batch, "seq": seq + int(rng.integers(0, 8)), "hidden": hidden,
                "layers": layers, "real": False, "element_size": size}))
        return cases

    def run(self, case, student):
        from aisys.grading.shapes import require

        inp = case.inputs
        size = {"element_size": inp["element_size"]} if "element_size" in inp else {}   # real run: the default 4
        answer = require(student.get(self.exercise)(inp["batch"], inp["seq"], inp["hidden"], inp["layers"],
                                                    inp["world"], **size),
                         dict, self.exercise, f"a dict with keys {', '.join(KEYS)}")
        out = {"answer": answer, "measured": None}
        if inp["real"]:
            from aisys.parallel.tensor_parallel.torch_tp import measure_stack_comm

            out["measured"] = measure_stack_comm(inp["batch"], inp["seq"], inp["hidden"], inp["heads"],
                                                 inp["layers"], inp["world"])
        return out

    def judge(self, case, output):
        inp = case.inputs
        world = inp["world"]
        measured = dict_of({"all_reduces": INT, "bytes": INT, "other_collectives": INT}) if inp["real"] else NONE
        verdict = expect(output, per_rank(dict_of({"answer": mapping(ANY), "measured": measured}), world),
                         f"{self.exercise}'s results")
        if not verdict.passed:
            return verdict
        law = measured_law(inp["batch"], inp["seq"], inp["hidden"], inp["layers"], inp.get("element_size", 4))
        if inp["real"]:
            for r, got in enumerate(output):
                seen = got["measured"]
                if {k: seen[k] for k in law} != law or seen["other_collectives"]:
                    return fail(f"rank {r}: the measured run disagrees with the structure it should have "
                                "(was the grader's run tampered with?)")
        answers = [got["answer"] for got in output]
        if any(a != answers[0] for a in answers):   # a pure function: every rank must agree
            return fail(f"the {world} ranks returned different answers for the same arguments")
        return self.judge_answer(answers[0], law, inp)

    def judge_answer(self, answer, law: dict, inp: dict):
        call = (f"tp_comm_volume(batch={inp['batch']}, seq={inp['seq']}, hidden={inp['hidden']}, "
                f"layers={inp['layers']}, world={inp['world']}, element_size={inp.get('element_size', 4)})")
        if not isinstance(answer, dict) or any(k not in answer for k in KEYS):
            return fail(f"{call} should return a dict with keys {', '.join(KEYS)}")
        truth = ("the count the logged run of these layers made" if inp["real"] else
                 f"what one forward + backward of {inp['layers']} Megatron layers makes")
        ring = 2.0 * (inp["world"] - 1) / inp["world"] * law["bytes"]
        for key, want, name in (("all_reduces", law["all_reduces"], "all-reduce count"),
                                ("bytes", law["bytes"], "all-reduce payload in bytes")):
            if not equal(answer[key], want).passed:
                return fail(f"{call}: the {name} ({key}) is {answer[key]!r}, not {truth}")
        if not close(answer["ring_bytes_per_rank"], ring, rtol=1e-9, atol=0.5).passed:
            return fail(f"{call}: ring_bytes_per_rank is {answer['ring_bytes_per_rank']!r}, not what one rank sends "
                        f"in a ring all-reduce of that payload on {inp['world']} ranks")
        return PASS


CHECKS = [TPCommVolumeCheck()]
