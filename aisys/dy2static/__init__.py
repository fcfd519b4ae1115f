"""Lab 05 bench: a replayable static graph for tracing, the runtime that converted code
calls (`convert_cond`, `convert_while` → torch.cond / torch.while_loop), the programs the
checks and the demo convert, and a generator of straight-line/if-else programs for SSA."""
