"""Lab 01 bench: the graph IR, expressions to build graphs from, and their renderings."""
from aisys.graph.ir import Graph, Node

__all__ = ["Graph", "Node"]
