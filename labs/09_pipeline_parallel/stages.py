"""Lab 09, part 1 — cutting a model into pipeline stages.

Pipeline parallelism puts *consecutive layers* on consecutive devices: device 0 holds layers
0..a−1, device 1 holds a..b−1, and so on; an activation crosses from one device to the next
at each cut. Every micro-batch passes through every stage, so once the pipeline is full the
whole pipeline moves at the pace of its **slowest stage**: a stage twice as slow as the others
makes every other device idle half the time. Choosing the cuts is therefore a small
optimisation problem, the *linear partition* problem:

    given per-layer costs c_0 … c_{L−1} and p stages, cut the sequence into p contiguous,
    non-empty runs so that the largest run sum is as small as possible.

Cutting into equal *numbers* of layers is not the answer (an embedding or a huge output
layer costs more than a block), and a greedy "fill a stage up to total/p" can be fooled
(costs 3, 3, 4 into two stages: greedy takes [3] and leaves [3, 4] = 7; the best is
[3, 3] + [4] = 6). Two exact methods:

- dynamic programming: best[k][j] = the smallest possible slowest stage when the first j
  layers form k stages = min over the last cut i of max(best[k−1][i], c_i + … + c_{j−1});
- binary search on the answer T: "can the layers be cut into at most p stages of cost ≤ T?"
  is answered greedily, and the smallest feasible T is one of the O(L²) run sums.

Several cuttings often tie for the best (equal costs); any of them is right. A pipeline with
more stages than layers would leave a device with nothing to do — refuse it.
"""
from __future__ import annotations

from typing import Sequence


def split_stages(layer_costs: Sequence[float], n_stages: int) -> list[list[int]]:
    """Cut layers 0..L−1 into `n_stages` contiguous, non-empty stages with the smallest
    possible slowest stage (the largest sum of `layer_costs` over one stage).

    Returns one list of layer indices per stage, in order: e.g. costs [3, 3, 4] and 2 stages
    → [[0, 1], [2]]. When several cuttings tie, return any of them. Raise ValueError (naming
    the numbers) when `n_stages` < 1, when there are more stages than layers, or when a cost
    is negative. Zero costs are fine. Do not modify `layer_costs`.

    Hint: prefix sums make a run's cost O(1); best[k][j] = min over i of
    max(best[k−1][i], sum(c[i:j])), remembering the i that won; walk the choices back from
    best[n_stages][L] to recover the cuts.
    """
    raise NotImplementedError("not implemented yet: read the docstring and its hint")
