"""CLI start-up: how long a student waits for `aisys --help` and `aisys lab list`.

Each command is a fresh process timed from start to exit, next to the floor every Python
program pays (`python -c pass`, the same interpreter). The goal is `aisys lab list` under
0.3 s; what makes start-up slow is imports, so the rows also count the modules each command
imports (`python -X importtime`) and say whether torch was among them (it must not be:
`import torch` alone costs over a second here — the last row measures it).

The entry script next to the interpreter is timed directly. When the `aisys` found on PATH
is something else (a pyenv shim: a bash script that execs several helpers before Python
starts), it gets its own row, because that is what a student typing `aisys` really waits for.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.common import REPO, bench_env, command, make_row, measure_interleaved, time_command

LIST_GOAL_S = 0.3


def entry_script() -> Path:
    """The `aisys` console script installed next to this interpreter."""
    return Path(sys.executable).with_name("aisys")


def import_profile(argv: list[str]) -> tuple[int, bool, list[tuple[str, float]]]:
    """For `python -X importtime ARGS`: (modules imported, whether torch was one, the
    top-level imports with their cumulative seconds, costliest first)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *argv], cwd=REPO, env=bench_env(),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
    names, top = [], []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        names.append(name.strip())
        if not name.startswith("  "):   # no indent: imported directly by the program or site
            top.append((name.strip(), int(cumulative) / 1e6))
    torch_seen = any(n == "torch" or n.startswith("torch.") for n in names)
    return len(names), torch_seen, sorted(top, key=lambda item: -item[1])


def other_aisys_on_path(script: Path) -> Path | None:
    """The first `aisys` on PATH that is not the entry script itself (e.g. a pyenv shim)."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder) / "aisys"
        if candidate.is_file() and os.access(candidate, os.X_OK) and candidate.resolve() != script.resolve():
            return candidate
    return None


def main(quick: bool = False) -> list[dict]:
    repeats = 3 if quick else 9
    script = entry_script()
    aisys = [str(script)] if script.is_file() else [sys.executable, "-m", "aisys"]
    commands = {"pass": [sys.executable, "-c", "pass"], "--help": aisys + ["--help"],
                "lab list": aisys + ["lab", "list"]}
    on_path = other_aisys_on_path(script)
    if on_path is not None:
        commands["path"] = [str(on_path), "lab", "list"]
    # taking turns: a burst of load from other users hits the program and its reference alike
    t = measure_interleaved({key: command(argv) for key, argv in commands.items()}, repeats)
    base_modules, _, _ = import_profile(["-c", "pass"])
    rows = []
    for key, goal in (("--help", None), ("lab list", LIST_GOAL_S)):
        count, torch_seen, top = import_profile(["-m", "aisys", *key.split()])
        verdict = "" if goal is None else f"goal < {goal} s: {'met' if t[key].median < goal else 'NOT met'}; "
        costliest = ", ".join(f"{name} {sec * 1e3:.0f} ms" for name, sec in top[:3])
        rows.append(make_row(f"aisys {key}", None, t["pass"].median, "s", timing=t[key],
                             reference_name="python -c pass",
                             note=f"{verdict}{count} modules imported vs {base_modules}; "
                                  f"torch imported: {'YES' if torch_seen else 'no'}; "
                                  f"costliest imports: {costliest}",
                             torch_imported=torch_seen, modules=count, top_imports=top[:8]))
    if on_path is not None:
        rows.append(make_row("aisys lab list via PATH", None, t["lab list"].median, "s", timing=t["path"],
                             reference_name="same, entry script called directly",
                             note=f"PATH gives {on_path} (a wrapper, e.g. a pyenv shim); goal < {LIST_GOAL_S} s: "
                                  f"{'met' if t['path'].median < LIST_GOAL_S else 'NOT met'}"))
    torch_import = time_command([sys.executable, "-c", "import torch"], 1 if quick else 3, warmup=0)
    rows.append(make_row("python -c 'import torch'", None, t["pass"].median, "s", timing=torch_import,
                         reference_name="python -c pass",
                         note="what a torch import at module level would add to every command"))
    return rows


if __name__ == "__main__":
    from benchmarks.__main__ import run_standalone

    run_standalone("cli_startup")
