"""aisys benchmarks: every speed claim as a ratio a user can reproduce with one command.

    python -m benchmarks              # every topic, ~10 minutes on 2 cores
    python -m benchmarks --quick      # fewer repeats, under 2 minutes
    python -m benchmarks --only cli_startup --json out.json

One script per topic (`cli_startup`, `grading`, `autodiff`, `scheduling`, `data_parallel`,
`tensor_parallel`; `gpu` when CUDA is present), each with `main(quick=False)` returning
rows (see `benchmarks.common`). Results from a run on the project machine: RESULTS.md.
"""
