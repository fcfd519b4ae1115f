"""The report model: every output format (text, json, junit, gradescope) is derived from it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

STATUSES = ("passed", "failed", "error", "timeout", "not_implemented")
_WORST_FIRST = ("error", "timeout", "failed", "not_implemented")


@dataclass
class CaseResult:
    id: str
    status: str
    output: str = ""      # the student's captured prints for this case
    message: str = ""     # why it did not pass (never the expected values)
    weight: float = 1.0


@dataclass
class ExerciseResult:
    name: str
    file: str
    score: float
    max_score: float
    status: str
    hint: str = ""
    cases: list[CaseResult] = field(default_factory=list)


@dataclass
class LabResult:
    slug: str
    number: int
    score: float
    max_score: float
    exercises: list[ExerciseResult] = field(default_factory=list)
    output: str = ""          # the child's stdout/stderr, truncated
    duration_s: float = 0.0


@dataclass
class Report:
    aisys_version: str
    seed: int
    labs_dir: str
    score: float
    max_score: float
    labs: list[LabResult] = field(default_factory=list)
    extra: dict = field(default_factory=dict)   # versions, file hashes, isolation: for staff to look at
    seed_hidden: bool = False                   # a secret seed: never shown to students (text, JUnit)
    notes: list[str] = field(default_factory=list)   # about the submission itself (files not graded, …)

    @property
    def all_passed(self) -> bool:
        return all(ex.status == "passed" for lab in self.labs for ex in lab.exercises)

    def to_dict(self) -> dict:
        return asdict(self)


def exercise_status(statuses: list[str]) -> str:
    """All passed → passed; all not started → not_implemented; otherwise the worst one seen."""
    if statuses and all(s == "passed" for s in statuses):
        return "passed"
    if statuses and all(s == "not_implemented" for s in statuses):
        return "not_implemented"
    if "passed" in statuses and set(statuses) <= {"passed", "not_implemented"}:
        return "failed"   # partly done: some methods or cases still stubs
    return next((s for s in _WORST_FIRST if s in statuses), "failed")


def exercise_score(points: float, cases: list[CaseResult]) -> float:
    """Partial credit: the exercise's points times the passed share of case weights."""
    total = sum(c.weight for c in cases)
    passed = sum(c.weight for c in cases if c.status == "passed")
    return round(points * passed / total, 4) if total else 0.0


def report_from_dict(data: dict) -> Report:
    """A Report read back from its JSON (`to_dict`), e.g. a saved report reused by grade-class."""
    labs = []
    for lab in data.get("labs", []):
        exercises = [ExerciseResult(**{**ex, "cases": [CaseResult(**case) for case in ex.get("cases", [])]})
                     for ex in lab.get("exercises", [])]
        labs.append(LabResult(**{**lab, "exercises": exercises}))
    return Report(**{**data, "labs": labs})
