"""Lab 07 checks: every case runs on real ranks (2 and 4), launched once for the whole lab.

Ground truth comes from torch in the grading parent: DistributedSampler, the sum that
dist.all_reduce computes, single-process training on the full batch, unsharded torch
optimizers, torch.amp.GradScaler, plain SGD; plus the structure the CommLog records
(bytes per rank, bucket counts, overlap, gathers per unit), the heap bytes a rank holds,
and the ZeRO paper's and the article's numbers.
"""
from __future__ import annotations

import torch._dynamo  # noqa: F401 - torch.optim's optimizers import it on first use (~1 s of CPU);
#                        imported with the checks, the fork server pays it once, not every worker and rank

from aisys.parallel.data_parallel.check_data import RingAllReduce, ShardIndices
from aisys.parallel.data_parallel.check_ddp import BucketedDDPCheck, NaiveDDPCheck
from aisys.parallel.data_parallel.check_fsdp import FSDPCheck
from aisys.parallel.data_parallel.check_memory import TrainingMemoryCheck
from aisys.parallel.data_parallel.check_precision import DynamicLossScalerCheck
from aisys.parallel.data_parallel.check_ps import ParameterServerCheck
from aisys.parallel.data_parallel.check_sharded import ShardedOptimizerCheck, ZeroOptimizerCheck
from aisys.parallel.data_parallel.check_zero import ZeroComm, ZeroMemory
from aisys.parallel.suite import DistributedSuite


class DataParallelSuite(DistributedSuite):
    """Warms torch.optim up once in the grading child, before the ranks are forked: the first
    optimizer step imports torch._dynamo (about a second), which every forked rank then shares."""

    def run_cases(self, cases, student, emit) -> None:
        from aisys.parallel.data_parallel.optim_bench import warm_up

        warm_up()
        super().run_cases(cases, student, emit)


SUITE = DataParallelSuite("data-parallel", [
    ShardIndices(), RingAllReduce(), NaiveDDPCheck(), BucketedDDPCheck(), ZeroOptimizerCheck(), ZeroMemory(),
    ZeroComm(), ShardedOptimizerCheck(), FSDPCheck(), DynamicLossScalerCheck(), TrainingMemoryCheck(),
    ParameterServerCheck()])
