"""Lab 08 checks, run on 2 and 4 real ranks launched once (see aisys.parallel.suite).

Ground truth is dense torch computed in the grading parent: `F.linear`, `F.gelu`, `F.layer_norm`,
`nn.MultiheadAttention`, `F.embedding`, `F.cross_entropy` and their gradients, plus the
communication structure read from each rank's CommLog, and a real run of torch's own
`parallelize_module` for the communication volume.
"""
from __future__ import annotations

import torch  # noqa: F401 - imported once in the grading child, so the ranks it forks share it

from aisys.parallel.suite import DistributedSuite
from aisys.parallel.tensor_parallel import (check_attention, check_layers, check_operators, check_sequence,
                                           check_vocab, check_volume)

SUITE = DistributedSuite("tensor-parallel", check_operators.CHECKS + check_layers.CHECKS + check_attention.CHECKS
                         + check_sequence.CHECKS + check_vocab.CHECKS + check_volume.CHECKS)
