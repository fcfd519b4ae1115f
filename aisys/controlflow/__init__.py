"""Lab 04 bench: a small dataflow interpreter with frames, iteration ids and dead tokens.

- `tokens`: what flows on an edge (a value tagged with its frame stack, maybe dead);
- `dataflow`: the graph builder (symbolic `Value`s with operators, like TF1 graph mode);
- `interpreter`: fires nodes when their inputs are ready and logs every firing;
- `autodiff`: reverse mode of a straight-line body (used by `while_loop_grad`);
- `programs`: the loops and branches the checks and the demo run, in Python and as graphs.
"""
