"""Lab 07 checks: every case runs on real ranks (2 and 4), launched once for the whole lab.

Ground truth comes from torch in the grading parent: DistributedSampler, the sum that
dist.all_reduce computes, single-process training on the full batch, unsharded Adam, plain
SGD; plus the structure the CommLog records (bytes per rank, bucket counts, overlap) and the
ZeRO paper's numbers.
"""
from __future__ import annotations

from aisys.parallel.data_parallel.check_data import RingAllReduce, ShardIndices
from aisys.parallel.data_parallel.check_ddp import BucketedDDPCheck, NaiveDDPCheck
from aisys.parallel.data_parallel.check_ps import ParameterServerCheck
from aisys.parallel.data_parallel.check_zero import ZeroComm, ZeroMemory, ZeroOptimizerCheck
from aisys.parallel.suite import DistributedSuite

SUITE = DistributedSuite("data-parallel", [ShardIndices(), RingAllReduce(), NaiveDDPCheck(), BucketedDDPCheck(),
                                            ZeroOptimizerCheck(), ZeroMemory(), ZeroComm(),
                                            ParameterServerCheck()])
