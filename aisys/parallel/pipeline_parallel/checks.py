"""Lab 09 checks, run on up to 4 real ranks launched once (see aisys.parallel.suite).

Pure exercises (split_stages, the two schedules, the two formulas) run on rank 0 alone and
are judged by exhaustive search, by replaying the schedule (dependencies, step time, memory)
and by the laws of GPipe and 1F1B. The rank exercises (naive_model_parallel, PipelineRunner)
are judged against one process training the whole model (torch autograd in the grading
parent), the CommLog's point-to-point records and what a watch on each stage saw.
"""
from __future__ import annotations

import torch  # noqa: F401 - imported once in the grading child, so the ranks it forks share it
import torch.fx.experimental.symbolic_shapes  # noqa: F401 - a first loss.backward() imports it: once, not per rank

from aisys.parallel.pipeline_parallel import check_formulas, check_naive, check_runner, check_schedules, check_stages
from aisys.parallel.suite import DistributedSuite

SUITE = DistributedSuite("pipeline-parallel", check_stages.CHECKS + check_schedules.CHECKS + check_formulas.CHECKS
                         + check_naive.CHECKS + check_runner.CHECKS)
