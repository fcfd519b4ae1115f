"""Lab 01 checks. Ground truth: torch's own strides, storage and autograd graph; properties."""
from aisys.graph.dual_checks import BackwardGraph
from aisys.graph.function_checks import MyReLUCheck, MySigmoidCheck
from aisys.graph.graph_checks import GraphFromTorch, TopoSort, canonical
from aisys.graph.layout_checks import FlatOffset, RowMajorStrides, TensorInfo
from aisys.graph.plain import plain_scalars
from aisys.grading.spec import LabSuite

__all__ = ["SUITE", "canonical"]

SUITE = LabSuite("graph", [plain_scalars(check) for check in (
    RowMajorStrides(), FlatOffset(), TensorInfo(), MyReLUCheck(), MySigmoidCheck(), GraphFromTorch(), TopoSort(),
    BackwardGraph())])
