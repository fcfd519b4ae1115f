"""Lab 05 checks. Ground truth: torch.jit.trace (the tracing pitfall included), eager torch,
torch.export (a converted branch must export as torch.cond), Python executing the original
program (SSA), and torch's own capture tools."""
from __future__ import annotations

import torch._dynamo  # noqa: F401 - torch.cond and torch.export import it on first use (~1 s of CPU);
#                        imported with the checks, the fork server pays it once, not every worker and rank

from aisys.dy2static.capture_checks import CaptureCheck
from aisys.dy2static.convert_checks import ToStaticCheck
from aisys.dy2static.ssa_checks import SSACheck
from aisys.dy2static.trace_checks import TraceCheck
from aisys.grading.spec import LabSuite

SUITE = LabSuite("dy2static", [TraceCheck(), ToStaticCheck(), SSACheck(), CaptureCheck()])
