"""Lab 03 checks. Ground truth: torch on the same loop, formula, tree and layer chain; an
op-counting number for the fused derivative; measured activations and layer calls for
checkpointing. One file per part of the lab; this one assembles the suite."""
from __future__ import annotations

from aisys.autodiff.challenges.checkpoint_checks import CheckpointedForwardBackward, CheckpointPlan
from aisys.autodiff.challenges.program_checks import FusedCube, LogisticClosed, LogisticLoop, torch_logistic
from aisys.autodiff.challenges.struct_checks import GradOfStruct
from aisys.autodiff.pytrees import Layer, Optimizer
from aisys.grading.spec import LabSuite

SUITE = LabSuite("ad-challenges", [LogisticLoop(), LogisticClosed(), FusedCube(), GradOfStruct(), CheckpointPlan(),
                                   CheckpointedForwardBackward()])

__all__ = ["SUITE", "Layer", "Optimizer", "torch_logistic"]
