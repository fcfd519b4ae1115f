"""The lab registry: the one place that names labs, their files and their exercises.

The CLI, the grader, the demos and the docs read this table; nothing else hard-codes a
lab name. It imports nothing heavy, so `aisys lab list` stays instant.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from aisys.errors import UserError

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


@dataclass(frozen=True)
class Exercise:
    name: str    # the function/class name in the lab file (public contract)
    file: str    # the lab file that defines it, e.g. "graphs.py"
    points: float


@dataclass(frozen=True)
class Lab:
    number: int
    slug: str
    folder: str
    title_en: str
    title_zh: str
    articles: tuple[str, ...]
    package: str             # subpackage of aisys with this lab's demo.py and checks.py
    exercises: tuple[Exercise, ...]
    distributed: bool = False
    demo_flags: tuple[str, ...] = ()   # the `lab run` options its demo uses beyond --solution/--labs-dir
    check_seconds: float = 0.5         # about what its check takes (2 idle cores): orders a first check,
                                       # the longest first, so parallel sessions finish together

    @property
    def max_score(self) -> float:
        return float(sum(e.points for e in self.exercises))

    @property
    def package_dir(self) -> Path:
        return PACKAGE_DIR.joinpath(*self.package.split("."))

    @property
    def available(self) -> bool:
        """Built labs have checks in their package; the rest are listed honestly."""
        return (self.package_dir / "checks.py").is_file()

    @property
    def checks_module(self) -> str:
        return f"aisys.{self.package}.checks"

    @property
    def demo_module(self) -> str:
        return f"aisys.{self.package}.demo"

    def exercise(self, name: str) -> Exercise:
        for ex in self.exercises:
            if ex.name == name:
                return ex
        raise KeyError(f"lab {self.slug!r} has no exercise {name!r}")

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(ex.file for ex in self.exercises))


def _ex(file: str, *pairs: tuple[str, float]) -> tuple[Exercise, ...]:
    return tuple(Exercise(name, file, points) for name, points in pairs)


LABS: tuple[Lab, ...] = (
    Lab(1, "graph", "01_graph", "Computation graphs", "计算图",
        ("计算图基本介绍", "计算图原理"), "graph",
        _ex("tensors.py", ("row_major_strides", 10), ("flat_offset", 10), ("tensor_info", 10))
        + _ex("functions.py", ("MyReLU", 10), ("MySigmoid", 10))
        + _ex("graphs.py", ("graph_from_torch", 20), ("topo_sort", 15), ("backward_graph", 15)),
        demo_flags=("dot",)),
    Lab(2, "autodiff", "02_autodiff", "Automatic differentiation", "自动微分",
        ("计算图与自动微分", "动手实现 PyTorch 微分"), "autodiff.modes",
        _ex("traces.py", ("evaluation_trace", 5), ("adjoint_trace", 8))
        + _ex("forward_mode.py", ("Dual", 10), ("jvp", 5))
        + _ex("reverse_mode.py", ("Variable", 12), ("Tape", 7), ("grad", 20))
        + _ex("jacobians.py", ("jacobian_forward", 8), ("jacobian_reverse", 8))
        + _ex("accumulation.py", ("accumulation_demo", 5))
        + _ex("dual_graph.py", ("run_backward_graph", 12))),
    Lab(3, "ad-challenges", "03_ad_challenges",
        "AD on real programs: control flow, structs, recomputation", "自动微分的挑战",
        ("自动微分的挑战&未来",), "autodiff.challenges",
        _ex("control_flow.py", ("logistic_loop", 10), ("logistic_closed", 10))
        + _ex("fused.py", ("fused_cube", 15))
        + _ex("structs.py", ("grad_of_struct", 20))
        + _ex("checkpointing.py", ("checkpoint_plan", 20), ("checkpointed_forward_backward", 25))),
    Lab(4, "control-flow", "04_control_flow", "Control flow in graphs", "计算图的控制流",
        ("计算图的控制流实现",), "controlflow",
        _ex("primitives.py", ("switch", 8), ("merge", 8), ("enter", 6), ("exit_", 6),
            ("next_iteration", 6))
        + _ex("lowering.py", ("cond", 16), ("while_loop", 20), ("unroll", 10))
        + _ex("loop_grad.py", ("while_loop_grad", 20)),
        demo_flags=("dot",)),
    Lab(5, "dy2static", "05_dy2static", "Dynamic to static", "动静转换",
        ("动态图与静态图转换",), "dy2static",
        _ex("tracing.py", ("trace", 25))
        + _ex("convert.py", ("to_static", 35))
        + _ex("ssa.py", ("to_ssa", 25))
        + _ex("capture.py", ("capture_report", 15)),
        check_seconds=3.0),
    Lab(6, "scheduling", "06_scheduling", "Scheduling and execution", "调度与执行",
        ("计算图的调度与执行",), "scheduling",
        _ex("schedulers.py", ("fifo_schedule", 10), ("list_schedule", 15), ("hetero_schedule", 15),
            ("backward_order", 10))
        + _ex("concurrency.py", ("cost_class_schedule", 15))
        + _ex("executor.py", ("run_graph", 15))
        + _ex("dispatch.py", ("Dispatcher", 10))
        + _ex("partition.py", ("partition", 10)),
        demo_flags=("trace",), check_seconds=0.7),
    Lab(7, "data-parallel", "07_data_parallel", "Data parallelism", "数据并行",
        ("数据并行",), "parallel.data_parallel",
        _ex("sampler.py", ("shard_indices", 6))
        + _ex("ring.py", ("ring_all_reduce", 9))
        + _ex("ddp.py", ("NaiveDDP", 6), ("BucketedDDP", 12))
        + _ex("zero.py", ("ZeroOptimizer", 8), ("zero_memory", 3), ("zero_comm", 3))
        + _ex("sharded.py", ("ShardedOptimizer", 12))
        + _ex("fsdp.py", ("FSDP", 18))
        + _ex("precision.py", ("DynamicLossScaler", 7))
        + _ex("memory.py", ("training_memory", 6))
        + _ex("param_server.py", ("ParameterServer", 10)),
        distributed=True, demo_flags=("nproc", "backend", "device"), check_seconds=4.0),
    Lab(8, "tensor-parallel", "08_tensor_parallel", "Tensor parallelism", "张量并行",
        ("张量并行",), "parallel.tensor_parallel",
        _ex("operators.py", ("copy_to_tp", 4), ("reduce_from_tp", 4), ("gather_from_tp", 4),
            ("scatter_to_tp", 4), ("scatter_to_sp", 4), ("gather_from_sp", 5), ("reduce_scatter_to_sp", 5))
        + _ex("layers.py", ("ColumnParallelLinear", 8), ("RowParallelLinear", 8), ("ParallelMLP", 8))
        + _ex("attention.py", ("ParallelAttention", 10))
        + _ex("sequence.py", ("SequenceParallelMLP", 12))
        + _ex("vocab.py", ("VocabParallelEmbedding", 6), ("ColumnParallelEmbedding", 6),
              ("vocab_parallel_cross_entropy", 8))
        + _ex("comm_volume.py", ("tp_comm_volume", 4)),
        distributed=True, demo_flags=("nproc", "backend", "device"), check_seconds=2.2),
    Lab(9, "pipeline-parallel", "09_pipeline_parallel", "Pipeline parallelism", "流水线并行",
        ("张量并行",), "parallel.pipeline_parallel",
        _ex("stages.py", ("split_stages", 15))
        + _ex("naive.py", ("naive_model_parallel", 15))
        + _ex("schedules.py", ("gpipe_schedule", 10), ("one_f_one_b_schedule", 15))
        + _ex("runner.py", ("PipelineRunner", 30))
        + _ex("formulas.py", ("pipeline_bubble", 5), ("pipeline_memory", 10)),
        distributed=True, demo_flags=("nproc", "backend", "device"), check_seconds=1.5),
)


def find_lab(name: str) -> Lab:
    """Resolve a slug ('graph'), a number ('1', '01') or a folder name ('01_graph')."""
    key = str(name).strip().lower()
    for lab in LABS:
        if key in (lab.slug, lab.folder, str(lab.number), f"{lab.number:02d}"):
            return lab
    names = [lab.slug for lab in LABS] + [lab.folder for lab in LABS]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
    hint = f" — did you mean {close[0]!r}?" if close else f" — try one of: {', '.join(l.slug for l in LABS)}"
    raise UserError(f"no lab {name!r}{hint}")


def find_labs(names: tuple[str, ...] | list[str]) -> list[Lab]:
    """Labs named on a command line, in catalog order; none named means every built lab."""
    if not names:
        return [lab for lab in LABS if lab.available]
    wanted = {find_lab(n).slug for n in names}
    return [lab for lab in LABS if lab.slug in wanted]
