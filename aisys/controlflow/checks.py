"""Lab 04 checks: the five firing rules, then cond / while_loop / unroll / while_loop_grad
run on the interpreter with the student's own rules."""
from __future__ import annotations

from aisys.controlflow.loop_grad_checks import LOOP_GRAD_CHECKS
from aisys.controlflow.lowering_checks import LOWERING_CHECKS
from aisys.controlflow.rule_checks import RULE_CHECKS
from aisys.grading.spec import LabSuite

SUITE = LabSuite("control-flow", RULE_CHECKS + LOWERING_CHECKS + LOOP_GRAD_CHECKS)
