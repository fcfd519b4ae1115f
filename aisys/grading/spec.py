"""What a lab's checks are made of: cases, verdicts, one check per exercise, a suite per lab.

A check has three halves that run in two processes:

- `cases(rng)`  in the parent: seeded, JSON-able inputs (the parent never sees student code);
- `run(case, student)` in the child: calls the student's code, returns plain data;
- `judge(case, output)` in the parent: ground truth from torch/numpy or a property.

So a copy of the toolkit without `solutions/` grades exactly the same.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Case:
    id: str
    inputs: dict = field(default_factory=dict)
    weight: float = 1.0
    exercise: str = ""

    @property
    def key(self) -> str:
        return f"{self.exercise}/{self.id}"

    def to_json(self) -> dict:
        return {"id": self.id, "inputs": self.inputs, "weight": self.weight, "exercise": self.exercise}


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str = ""


PASS = Verdict(True)


def fail(message: str) -> Verdict:
    return Verdict(False, message)


def first_failure(*verdicts: Verdict) -> Verdict:
    """The first failing verdict, or PASS: combine several comparisons of one case."""
    return next((v for v in verdicts if not v.passed), PASS)


class ExerciseCheck:
    """Grades one exercise. Subclasses set `exercise` and `hint` and define the three halves."""

    exercise: str = ""
    hint: str = ""
    case_timeout: float = 10.0   # seconds per case in the child (the lab timeout still applies)

    def cases(self, rng: np.random.Generator) -> list[Case]:
        raise NotImplementedError

    def run(self, case: Case, student: Any) -> Any:
        raise NotImplementedError

    def judge(self, case: Case, output: Any) -> Verdict:
        raise NotImplementedError


Emit = Callable[[dict], None]


class LabSuite:
    """All checks of one lab. Distributed labs override `run_cases` to launch ranks once."""

    def __init__(self, slug: str, checks: list[ExerciseCheck]):
        self.slug = slug
        self.checks = {check.exercise: check for check in checks}

    def plan(self, seed: int) -> list[Case]:
        """Every case of every exercise; each exercise draws from its own seeded stream."""
        planned = []
        for name, check in self.checks.items():
            rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
            planned += [replace(case, exercise=name) for case in check.cases(rng)]
        keys = [case.key for case in planned]
        if len(set(keys)) != len(keys):   # records are matched by key: a repeat would be judged twice
            raise ValueError(f"{self.slug}: duplicate case ids {sorted({k for k in keys if keys.count(k) > 1})}")
        return planned

    def run_cases(self, cases: list[Case], student: Any, emit: Emit) -> None:
        """In the child: run each case and emit its record (see aisys.grading.execute)."""
        from aisys.grading.execute import execute_case, record

        timed_out: set[str] = set()
        for case in cases:
            if case.exercise in timed_out:   # an endless loop usually loops on every case
                emit(record(case, "timeout", message="not run: an earlier case of this exercise timed out"))
                continue
            result = execute_case(self.checks[case.exercise], case, student)
            if result["status"] == "timeout":
                timed_out.add(case.exercise)
            emit(result)

    def judge(self, case: Case, output: Any) -> Verdict:
        return self.checks[case.exercise].judge(case, output)
