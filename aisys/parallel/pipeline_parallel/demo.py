"""`aisys lab run pipeline-parallel [--nproc N]`: cut a model into stages, schedule it, run it.

1. split_stages on a transformer-like cost profile, beside a cut into equal layer counts;
2. the schedules on paper — naive, GPipe, 1F1B as Gantt charts (lab 06's renderer), with the
   bubble read off the chart beside pipeline_bubble and the formula;
3. the same on N real ranks: one process vs naive_model_parallel vs PipelineRunner with GPipe
   and 1F1B, measured, beside the formula and the article's −7% / +49%;
4. activations alive per stage, measured by a watch on each stage, beside pipeline_memory.

The rank-side part is in demo_ranks.py (one launch for everything). Under torchrun every
process runs it and global rank 0 draws.
"""
from __future__ import annotations

import io
import os
import statistics

from rich.console import Console

from aisys.labrun import DemoOptions
from aisys.parallel.pipeline_parallel.simulate import ScheduleProblem, bubble_law, completeness, simulate, steps_of
from aisys.parallel.sections import from_rank
from aisys.ui.attempt import attempt
from aisys.ui.gantt import gantt
from aisys.ui.pipeline_charts import activations, stage_costs, step_times
from aisys.ui.safe import escape
from aisys.workspace import Student

COSTS = [2, 3, 3, 3, 3, 3, 3, 3, 3, 1, 12]    # embedding, 8 blocks, final norm, a big output head
T_F, T_B = 1, 2                               # a backward costs about twice a forward
CHART_WIDTH = 78


def run(student: Student, console: Console, options: DemoOptions) -> None:
    from aisys.parallel.launch import LaunchError, launch, under_torchrun

    world, speaker = options.nproc, console
    if under_torchrun():            # every process runs this; only global rank 0 draws
        world = int(os.environ["WORLD_SIZE"])
        if os.environ["RANK"] != "0":
            console = Console(file=io.StringIO())
    show_split(console, student, world)
    show_schedules(console, student, world)
    how = "joining the torchrun group" if under_torchrun() else "launching"
    console.rule(f"3 · {how}: {world} ranks (backend {options.backend}, device {options.device})")
    from aisys.parallel.pipeline_parallel.demo_ranks import collect

    try:
        ranks = launch(collect, world, str(student.labs_dir), backend=options.backend, device=options.device,
                       timeout=30.0)[0]
    except LaunchError as err:
        console.print(f"[red]the ranks failed:[/]\n{escape(str(err)[-4000:])}")
        return
    if console is not speaker:
        speaker.print(f"rank {os.environ['RANK']}: done (rank 0 draws the results)")
        return
    show_step_times(console, student, ranks)
    show_memory(console, student, ranks)


# ------------------------------------------------------------------ 1 · stages
def show_split(console: Console, student: Student, world: int) -> None:
    console.rule("1 · cutting the model into stages: split_stages")
    p = min(world, len(COSTS))
    console.print(f"{len(COSTS)} layers with costs {COSTS} (embedding, 8 blocks, norm, output head) on {p} stages.")
    equal = [list(range(round(k * len(COSTS) / p), round((k + 1) * len(COSTS) / p))) for k in range(p)]
    console.print(stage_costs(_rows(equal), "the same number of layers per stage"))
    stages = attempt(console, student, "split_stages", lambda fn: fn(list(COSTS), p))
    if stages is None:
        return
    try:
        rows = _rows(stages)
    except (TypeError, IndexError, ValueError):
        console.print(f"[red]split_stages returned {escape(repr(stages)[:200])}: not lists of layer indices[/]")
        return
    console.print(stage_costs(rows, "your split_stages"))
    slow_equal, slow_yours = max(c for *_, c in _rows(equal)), max(c for *_, c in rows)
    console.print(f"A pipeline moves at the pace of its slowest stage: {slow_yours:g} (yours) vs {slow_equal:g} "
                  f"(equal layer counts) — {slow_equal / slow_yours:.2f}× the throughput.")


def _rows(stages) -> list[tuple[str, list[int], float]]:
    return [(f"stage {s}", [int(i) for i in layers], float(sum(COSTS[int(i)] for i in layers)))
            for s, layers in enumerate(stages)]


# ------------------------------------------------------------------ 2 · schedules on paper
def chart_micro_batches(p: int) -> int:
    """The most micro-batches (up to 2p) whose chart still fits with a label in every cell."""
    fit = CHART_WIDTH // (3 * (T_F + T_B)) - p + 1
    return max(1, min(2 * p, fit))


def show_schedules(console: Console, student: Student, world: int) -> None:
    p = world
    m = chart_micro_batches(p)
    console.rule(f"2 · schedules on paper: {p} stages, {m} micro-batches, t_F = {T_F}, t_B = {T_B}")
    if (m + p - 1) * (T_F + T_B) * 3 > CHART_WIDTH + 3 * (T_F + T_B):
        console.print(f"({p} stages are too many to draw in {CHART_WIDTH} columns; try --nproc 2 or 4.)")
        return
    naive = [[("F", 0), ("B", 0)] for _ in range(p)]
    console.print(gantt(simulate(naive, m * T_F, m * T_B), f"naive model parallelism: the whole batch, one stage "
                        "at a time", CHART_WIDTH, "time units"))
    console.print(f"step {p * m * (T_F + T_B)} units: each device idles {(p - 1) / p:.0%} of the step, and one "
                  "device running every stage would take just as long — the split buys memory, not speed.")
    for name, title in (("gpipe_schedule", "GPipe: all forwards, then all backwards"),
                        ("one_f_one_b_schedule", "1F1B: one forward, one backward")):
        schedule = attempt(console, student, name, lambda fn: fn(p, m))
        if schedule is not None:
            draw_schedule(console, student, schedule, p, m, title)


def draw_schedule(console: Console, student: Student, schedule, p: int, m: int, title: str) -> None:
    try:
        steps = steps_of(schedule)
        problem = completeness(steps, m) if len(steps) == p else f"{len(steps)} stage lists for {p} stages"
        timeline = None if problem else simulate(steps, T_F, T_B)
    except (ScheduleProblem, TypeError, ValueError, IndexError) as err:
        problem, timeline = str(err), None
    if timeline is None:
        console.print(f"[red]cannot replay this schedule: {escape(problem)}[/]")
        return
    console.print(gantt(timeline, title, CHART_WIDTH, "time units"))
    busy = m * (T_F + T_B)
    idle = 1 - busy / timeline.makespan
    said = attempt(console, student, "pipeline_bubble", lambda fn: fn(p, m))
    said_text = f"{said:.3f}" if isinstance(said, (int, float)) else "—"
    held = [_in_flight(stage) for stage in steps]
    console.print(f"step {timeline.makespan:g} units · idle share read off the chart {idle:.3f} · your "
                  f"pipeline_bubble {said_text} · (p − 1)/(m + p − 1) = {bubble_law(p, m):.3f} · "
                  f"micro-batches in flight per stage {held}")


def _in_flight(stage: list) -> int:
    from aisys.parallel.pipeline_parallel.simulate import in_flight

    return in_flight(stage)


# ------------------------------------------------------------------ 3 · real ranks
def show_step_times(console: Console, student: Student, ranks: list[dict]) -> None:
    first = ranks[0]
    s, p = first["sizes"], first["world"]
    m = s["n_micro"]
    console.print(f"{p} ranks · backend {first['backend']} · device {first['device']} · {sum(s['partition'])} "
                  f"blocks of {s['hidden']}×{s['hidden']} (2 per stage) · batch {s['rows']} rows in {m} "
                  f"micro-batches · {os.cpu_count()} CPU cores")
    single = _slowest(ranks, "single")
    rows = [("one process, whole model", _ms(single), "1.00×", "", "1.00×", "")]
    naive = _slowest(ranks, "naive")
    shown = attempt(console, student, "naive_model_parallel", from_rank(first["naive"]))
    if shown is not None and naive:
        rows.append(("naive model parallel", _ms(naive), f"{naive / single:.2f}×", "1.00×", "1.00×",
                     "7% slower than 1 GPU"))
    for key, label in (("gpipe", "GPipe"), ("1f1b", "1F1B")):
        part = attempt(console, student, "PipelineRunner", from_rank(first[key]))
        took = _slowest(ranks, key)
        if part is None or not took:
            continue
        mine = "" if part["source"] == "yours" else " (bench schedule)"
        rows.append((f"{label}, m = {m}{mine}", _ms(took), f"{took / single:.2f}×",
                     f"{naive / took:.2f}×" if naive else "", f"{(m + p - 1) / (m * p):.2f}×",
                     "49% faster than naive" if key == "gpipe" else ""))
    console.print(step_times(rows, "one training step, the slowest rank's median"))
    console.print(f"formula: one device per stage, free messages — naive model parallelism takes as long as one "
                  f"device (one stage works at a time) and a pipeline (m + p − 1)/(m·p) of it. The article ran "
                  f"ResNet-50 on two GPUs: naive model parallelism 7% slower than one GPU, pipelined with 6 "
                  f"micro-batches 49% faster than naive (the formula's best there: 2·6/7 = 1.71×, +71%). Here "
                  f"{p} ranks share {os.cpu_count()} CPU cores and every message costs a context switch, so the "
                  "ratios drift from the formula; a bigger model, or GPUs, bring them closer.")


def _slowest(ranks: list[dict], key: str) -> float | None:
    """The step time of a variant: per rank the median, then the slowest rank."""
    parts = [r.get(key) or {} for r in ranks]
    if any(not part.get("times") for part in parts):
        return None
    return max(statistics.median(part["times"]) for part in parts)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


# ------------------------------------------------------------------ 4 · memory
def show_memory(console: Console, student: Student, ranks: list[dict]) -> None:
    console.rule("4 · activations alive per stage: GPipe ∝ m, 1F1B ∝ p")
    first = ranks[0]
    s, p = first["sizes"], first["world"]
    m = s["n_micro"]
    rows, formula = [], {}
    act_bytes = s["rows"] // m * s["hidden"] * 4
    for key, label in (("gpipe", "GPipe"), ("1f1b", "1F1B")):
        if not all(r[key]["status"] == "ok" for r in ranks):
            continue
        rows.append((label, [r[key]["peak"] for r in ranks]))
        said = attempt(console, student, "pipeline_memory", lambda fn, k=key: fn(p, m, k, act_bytes))
        if isinstance(said, list) and len(said) == p and all(isinstance(v, (int, float)) for v in said):
            formula[label] = [round(v / act_bytes, 2) for v in said]
    if not rows:
        console.print("(no runner results to show: PipelineRunner is not written yet)")
        return
    console.print(activations(rows, formula, f"micro-batches whose activations a stage holds at once (m = {m}); "
                                             "after '·': your pipeline_memory ÷ one micro-batch's bytes"))
    console.print("GPipe keeps every micro-batch until the backwards start; 1F1B frees each one at its backward, "
                  "so stage s never holds more than p − s — raise m to shrink the bubble, and its memory stays put.")
