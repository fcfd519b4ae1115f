"""Checks for training_memory: the article's formulas, and a measured step of a small Transformer.

The formulas are the article's (after the ZeRO and ZeRO-Infinity papers): Ψ = 12·n_layers·h²,
model states 2Ψ + 2Ψ + 12Ψ bytes, activations b·s·n_layers·(16h + 2·heads·s) without
checkpointing and 2·b·s·h·n_layers/c + b·s·c·(16h + 2·heads·s) with a checkpoint every c
blocks. One case also trains `transformer.TinyTransformer` (exactly 12·n_layers·h²
parameters) for a step in bf16 with fp32 Adam and compares with what it really held.
"""
from __future__ import annotations

from aisys.grading.compare import close, off_by
from aisys.grading.shapes import NUMBER, dict_of, expect, per_rank
from aisys.grading.spec import PASS, Case, ExerciseCheck, fail

PARTS = ("parameters", "gradients", "optimizer", "activations", "total")


def article(n_layers: int, hidden: int, heads: int, batch: int, seq: int, checkpoint_every: int | None) -> dict:
    psi = 12 * n_layers * hidden**2
    block = batch * seq * (16 * hidden + 2 * heads * seq)
    acts = n_layers * block if checkpoint_every is None else \
        2 * batch * seq * hidden * n_layers / checkpoint_every + checkpoint_every * block
    parts = {"parameters": 2 * psi, "gradients": 2 * psi, "optimizer": 12 * psi, "activations": acts}
    return {**parts, "total": sum(parts.values())}


class TrainingMemoryCheck(ExerciseCheck):
    exercise = "training_memory"
    hint = ("Ψ = 12·n_layers·hidden²; 2Ψ + 2Ψ + 12Ψ bytes of model states; activations per block "
            "b·s·(16h + 2·heads·s), all blocks without checkpointing, else 2·b·s·h per checkpoint "
            "(n_layers/c of them) plus one segment of c blocks")

    def cases(self, rng):
        def case(name, ckpt, **fixed):
            n_layers = fixed.get("n_layers", int(rng.choice([12, 24, 48])))
            args = {"n_layers": n_layers, "hidden": int(rng.choice([1024, 2048, 4096])),
                    "heads": int(rng.choice([8, 16, 32])), "batch": int(rng.integers(1, 9)),
                    "seq": int(rng.choice([512, 1024, 2048])), **fixed}
            if ckpt == "divisor":
                ckpt = int(rng.choice([d for d in range(2, n_layers) if n_layers % d == 0]))
            return Case(name, {"world": 2, **args, "checkpoint_every": ckpt})
        return [case("gpt-no-checkpointing", None), case("gpt-checkpoint-every-c", "divisor"),
                case("checkpoint-every-block", 1), case("one-segment-is-everything", "all", n_layers=8),
                case("measured-small-model", 2, n_layers=6, hidden=128, heads=4, batch=2, seq=64)]

    def run(self, case, student):
        p = case.inputs
        ckpt = p["n_layers"] if p["checkpoint_every"] == "all" else p["checkpoint_every"]
        got = student.get("training_memory")(p["n_layers"], p["hidden"], p["heads"], p["batch"], p["seq"],
                                             checkpoint_every=ckpt)
        from aisys.grading.shapes import require

        require(got, dict_of({k: NUMBER for k in PARTS}), "training_memory",
                "a dict of parameters, gradients, optimizer, activations, total (bytes)")
        return {k: float(got[k]) for k in PARTS}

    def judge(self, case, output):
        p = case.inputs
        verdict = expect(output, per_rank(dict_of({k: NUMBER for k in PARTS}), p["world"]),
                         "what training_memory returned")
        if not verdict.passed:
            return verdict
        if any(out != output[0] for out in output):
            return fail("training_memory returned different values on different ranks for the same arguments")
        got = output[0]
        ckpt = p["n_layers"] if p["checkpoint_every"] == "all" else p["checkpoint_every"]
        call = (f"training_memory(n_layers={p['n_layers']}, hidden={p['hidden']}, heads={p['heads']}, "
                f"batch={p['batch']}, seq={p['seq']}, checkpoint_every={ckpt})")
        want = article(p["n_layers"], p["hidden"], p["heads"], p["batch"], p["seq"], ckpt)
        for part in PARTS:
            if not close(got[part], want[part], rtol=1e-9, atol=0.5).passed:
                return fail(off_by(got[part], want[part], f"{call}[{part!r}]", "bytes"))
        if case.id == "measured-small-model":
            return judge_measured(p, got, call)
        return PASS


def judge_measured(p: dict, got: dict, call: str):
    """What one bf16 + fp32-Adam step of the 12·n_layers·h² Transformer really held."""
    from aisys.parallel.data_parallel.transformer import measure_training_memory

    args = (p["n_layers"], p["hidden"], p["heads"], p["batch"], p["seq"], p["checkpoint_every"])
    measure_training_memory(*args)                       # the first run allocates caches
    measured = measure_training_memory(*args)           # (no "total" where there is no heap counter)
    for part in ("parameters", "gradients", "optimizer"):
        if part in measured and got[part] != measured[part]:
            return fail(off_by(got[part], measured[part], f"{call}[{part!r}] against the bytes a real "
                               "mixed-precision step held", "bytes"))
    if "total" in measured and not 0.75 * measured["total"] <= got["total"] <= 1.25 * measured["total"]:
        return fail(off_by(got["total"], measured["total"], f"{call}['total'] against the measured peak "
                           "(allowed: within 25 %, the activation formula is an estimate)", "bytes"))
    return PASS
