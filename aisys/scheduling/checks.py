"""Lab 06 checks: schedulers judged by properties and bounds, runtimes by real execution."""
from __future__ import annotations

from aisys.grading.spec import LabSuite
from aisys.scheduling.checks_cost_class import CostClassSchedule
from aisys.scheduling.checks_hetero import BackwardOrder, HeteroSchedule
from aisys.scheduling.checks_partition import Partition
from aisys.scheduling.checks_runtime import DispatcherCheck, RunGraph
from aisys.scheduling.checks_schedules import FifoSchedule, ListSchedule

SUITE = LabSuite("scheduling", [FifoSchedule(), ListSchedule(), HeteroSchedule(), BackwardOrder(),
                                CostClassSchedule(), RunGraph(), DispatcherCheck(), Partition()])
