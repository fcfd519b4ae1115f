"""A forgotten `return` or a wrong type is told as what came back, never as grader internals.

For every lab, two variants of the reference answers are graded: every answer body inside a
function returns None (constructors keep their answers), then every one returns a str.
Each exercise must lose points, and a message of its own must name what came back —
"returned None; expected a list of node names" — rather than
"TypeError: 'NoneType' object is not iterable" from inside the grader.
"""
from __future__ import annotations

import pytest

from aisys.catalog import LABS, Lab
from aisys.stubs import variant
from conftest import REPO, check_json

BUILT = [lab for lab in LABS if lab.available]
VARIANTS = {"none": ("return None", "None"), "str": ("return 'wrong-type'", "str")}
# Exercises whose every answer body returns nothing by contract (their methods mutate state),
# so "returns None" is the right answer there; each names why.
EXEMPT: dict[tuple[str, str], str] = {
    ("data-parallel", "NaiveDDP"): "sync_gradients() averages p.grad in place and returns None",
    ("data-parallel", "BucketedDDP"): "sync_gradients() and the gradient hooks mutate p.grad and return None",
    ("data-parallel", "ZeroOptimizer"): "step() updates the parameters in place and returns None",
    ("data-parallel", "ShardedOptimizer"): "step() updates the parameters in place and returns None (no closure)",
}
INTERNALS = ("'NoneType' object", "object is not iterable", "object is not subscriptable",
             "has no attribute", "Traceback")


def _variant_dir(tmp_path, lab: Lab, body: str):
    """Every lab's reference answers (later labs build on earlier ones), with `lab`'s varied."""
    labs = tmp_path / "labs"
    for src in sorted((REPO / "solutions").glob("*/*.py")):
        target = labs / src.parent.name / src.name
        target.parent.mkdir(parents=True, exist_ok=True)
        text = src.read_text()
        target.write_text(variant(text, body, str(src)) if src.parent.name == lab.folder else text)
    return labs


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(VARIANTS))
@pytest.mark.parametrize("lab", BUILT, ids=lambda lab: lab.slug)
def test_every_exercise_names_what_came_back(lab: Lab, kind: str, tmp_path):
    body, named = VARIANTS[kind]
    report, proc = check_json(lab.slug, "--labs-dir", str(_variant_dir(tmp_path, lab, body)), "--timeout", "120")
    assert proc.returncode == 1, proc.stderr
    problems = []
    for ex in report["labs"][0]["exercises"]:
        if (lab.slug, ex["name"]) in EXEMPT:
            continue
        messages = [c["message"] for c in ex["cases"] if c["status"] != "passed"]
        if ex["score"] >= ex["max_score"]:
            problems.append(f"{ex['name']}: kept full marks")
        elif not any(named in m for m in messages):
            problems.append(f"{ex['name']}: no message names {named!r}: {messages[:1]}")
        elif any(marker in m for m in messages for marker in INTERNALS) and not any(
                named in m and not any(marker in m for marker in INTERNALS) for m in messages):
            problems.append(f"{ex['name']}: only grader internals: {messages[:1]}")
    assert not problems, "\n".join(problems)
