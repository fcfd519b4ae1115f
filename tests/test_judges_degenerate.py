"""Judges treat what comes back as an adversary's data: shape first, then values.

For every case of every lab on seeds 0 and 1, the judge is handed degenerate outputs —
empty, short, `None`-laden, wrong-typed, one rank missing — built both from nothing and by
breaking the reference answers' real output. None of them may pass. (A forged record that
carries such data must earn nothing, whatever it forged.)
"""
from __future__ import annotations

import functools
from typing import Any, Iterator

import numpy as np
import pytest

from aisys.catalog import LABS, Lab
from aisys.grading.plain import from_plain
from aisys.grading.runner import _judge, load_suite
from aisys.grading.sandbox import run_child
from conftest import REPO

SEEDS = (0, 1)
PER_CASE = 14          # mutations of the real output judged per case (seeded choice)
BUILT = [lab for lab in LABS if lab.available]
BLANK = [None, [], {}, "", 0, 0.0, True, "x", [None], {"x": None}, [[]], np.zeros(0)]


@functools.lru_cache(maxsize=None)
def reference_outputs(slug: str, seed: int) -> tuple[list, dict]:
    """(cases, {case key: plain output}) of the reference answers on this seed."""
    lab = next(item for item in BUILT if item.slug == slug)
    suite = load_suite(lab)
    cases = suite.plan(seed)
    child = run_child(lab, REPO / "solutions", cases, 240.0)
    outputs = {key: from_plain(rec.get("output")) for key, rec in child.records.items()
               if rec.get("status") == "ok"}
    return cases, outputs


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape \
            and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _edits(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(what was broken, a function of the whole → broken whole) at every node."""
    if isinstance(value, dict):
        for key in list(value)[:6]:
            yield f"{path}[{key!r}] removed", {k: v for k, v in value.items() if k != key}
            yield f"{path}[{key!r}] = None", {**value, key: None}
            for desc, broken in _edits(value[key], f"{path}[{key!r}]"):
                yield desc, {**value, key: broken}
    elif isinstance(value, (list, tuple)):
        if value:
            yield f"{path} emptied", []
            yield f"{path} without its last entry", list(value[:-1])
            yield f"{path}[0] = None", [None, *value[1:]]
            for i in sorted({0, len(value) - 1}):
                for desc, broken in _edits(value[i], f"{path}[{i}]"):
                    yield desc, [*value[:i], broken, *value[i + 1:]]
    elif isinstance(value, np.ndarray):
        if value.size:
            yield f"{path} as an empty array", value[:0] if value.ndim else np.zeros(0, value.dtype)
            yield f"{path} = None", None
            yield f"{path} as a str", "x"
            if value.ndim:
                yield f"{path} without its last row", value[:-1]
    elif value is None:
        yield f"{path} = 'x' instead of None", "x"
    elif isinstance(value, (bool, int, float, str)):
        yield f"{path} = None", None
        yield f"{path} of the wrong type", 0 if isinstance(value, str) else "x"


def degenerate(output: Any, world: int | None, rng: np.random.Generator) -> list[tuple[str, Any]]:
    """What a judge is handed instead of `output`, each with a description."""
    made = [(f"{v!r}", v) for v in BLANK]
    if world:
        made += [(f"[{v!r}] * {world}", [v] * world) for v in (None, [], {}, "x")]
    if output is not None:
        edits = [(d, b) for d, b in _edits(output) if not _same(b, output)]
        if world and isinstance(output, list):
            edits += [("one rank's result missing", output[:-1]), ("rank 0's result twice", [output[0]] * world)]
        picks = rng.choice(len(edits), size=min(PER_CASE, len(edits)), replace=False) if edits else []
        made += [edits[int(i)] for i in sorted(picks)]
    return [(d, b) for d, b in made if output is None or not _same(b, output)]


def _world(lab: Lab, case) -> int | None:
    return int(case.inputs.get("world", 2)) if lab.distributed else None


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("lab", BUILT, ids=lambda lab: lab.slug)
def test_no_degenerate_output_passes_a_judge(lab: Lab, seed: int):
    cases, outputs = reference_outputs(lab.slug, seed)
    assert outputs, f"the reference answers produced no outputs for {lab.slug}"
    suite = load_suite(lab)
    rng = np.random.default_rng(seed)
    passed = []
    for case in cases:
        for desc, broken in degenerate(outputs.get(case.key), _world(lab, case), rng):
            verdict = _judge(suite, case, broken)
            if verdict.passed:
                passed.append(f"{case.key}: {desc}")
    assert not passed, f"{len(passed)} degenerate outputs passed:\n" + "\n".join(passed[:40])
