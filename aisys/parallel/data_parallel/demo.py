"""`aisys lab run data-parallel`: shards, ring traffic, DDP overlap, ZeRO, FSDP, loss scaling, the PS.

The rank-side work is in demo_ranks.py (one launch for everything); this file and
demo_sharding.py draw it. Under torchrun every process runs the ranks' part and global
rank 0 draws. Every string from student code or torch is shown as plain text; when a
student rank failed, the demo names the function and exits 1.
"""
from __future__ import annotations

from types import SimpleNamespace

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from aisys.errors import StudentCodeError
from aisys.labrun import DemoOptions
from aisys.parallel.data_parallel import demo_parts as P
from aisys.parallel.data_parallel import demo_sharding
from aisys.parallel.data_parallel.demo_ranks import PS_WORLD, demo_on_rank
from aisys.ui import dp_panels
from aisys.ui.attempt import attempt
from aisys.ui.gantt import gantt
from aisys.ui.safe import escape, safe_text
from aisys.workspace import Student


class Parts:
    """Every rank's results by part key; draws a part or says why it cannot."""

    def __init__(self, console: Console, student: Student, results: list[dict]):
        self.console, self.student, self.results = console, student, results
        self.failed: list[str] = []

    def ranks(self, key: str) -> list[dict]:
        return [res[key] for res in self.results if key in res and res[key]["status"] != "skip"]

    def value(self, key: str, exercise: str) -> list[dict] | None:
        """Every rank's result of a part that ran; None after saying why not (stub, failure)."""
        mine = self.ranks(key)
        if not mine:
            self.console.print("[dim](not run: an earlier part failed under torchrun)[/]")
            return None
        errors = [(r, res) for r, res in enumerate(mine) if res["status"] == "error"]
        if errors:                                       # the cause before the peers' echoes
            r, res = sorted(errors, key=lambda item: "gloo" in item[1]["message"].lower())[0]
            self.failed.append(exercise)
            self.console.print(Panel(safe_text(res["message"][-3000:]), border_style="red",
                                     title=f"{escape(exercise)} failed on rank {r}"))
            return None
        if mine[0]["status"] == "not_implemented":
            attempt(self.console, self.student, exercise, _stub)
            self.console.print(f"[dim](this panel appears once {escape(exercise)} works)[/]")
            return None
        return mine

    def show(self, key: str, exercise: str, draw) -> None:
        mine = self.value(key, exercise)
        if mine is not None:
            attempt(self.console, self.student, exercise, lambda _: draw(mine))


def _stub(_):
    raise NotImplementedError


def run(student: Student, console: Console, options: DemoOptions) -> None:
    import io
    import os

    from aisys.parallel.launch import LaunchError, launch, under_torchrun

    world, launched = options.nproc, max(options.nproc, PS_WORLD)
    speaker = console
    if under_torchrun():            # every process runs this; only global rank 0 draws
        world = launched = int(os.environ["WORLD_SIZE"])
        if os.environ["RANK"] != "0":
            console = Console(file=io.StringIO())
    shards(student, console, world)
    demo_sharding.memory_panels(student, console)
    how = "joining the torchrun group" if under_torchrun() else "launching"
    extra = (f" (--nproc {world} for the panels; the ring's N=4 row and a parameter server with 3 workers "
             f"need {PS_WORLD})") if launched > world else ""
    console.rule(f"{how}: {launched} ranks")
    console.print(f"[dim]{launched} ranks{extra}; backend {options.backend}, device {options.device}[/]",
                  justify="center")
    from aisys.parallel.data_parallel.optim_bench import warm_up

    warm_up()                        # once here, not once per forked rank
    try:
        gathered = launch(demo_on_rank, launched, str(student.labs_dir), world, backend=options.backend,
                          device=options.device, timeout=10.0, wall_timeout=300.0)
    except LaunchError as err:
        console.print(Panel(safe_text(str(err)[-4000:]), title="the ranks failed", border_style="red"))
        raise StudentCodeError("the demo's ranks failed (see above)") from None
    if console is not speaker:
        speaker.print(f"rank {os.environ['RANK']}: done (rank 0 draws the results)")
        return
    results = gathered[0]["everyone"] if "everyone" in gathered[0] else gathered
    console.print(f"{len(results)} ranks on {', '.join(sorted({r['device'] for r in results}))}")
    parts = Parts(console, student, results)
    ring(parts, console)
    ddp(parts, console, world)
    demo_sharding.zero_panel(parts, console, student, world)
    demo_sharding.sharded_panel(parts, console, world)
    demo_sharding.fsdp_panel(parts, console, world)
    demo_sharding.scaler_panel(parts, console, world)
    parameter_server(parts, console)
    if parts.failed:
        raise StudentCodeError(f"{', '.join(dict.fromkeys(parts.failed))} failed on the ranks (see above)")


def shards(student: Student, console: Console, world: int) -> None:
    n = 2 * world + 3                    # never a multiple of world: padding and drop_last both show
    console.rule(f"1 · who reads what: shard_indices (DistributedSampler's rule), n = {n}")
    settings = {"in order": (False, 0, False), "in order, drop_last": (False, 0, True),
                "shuffled, epoch 0": (True, 0, False), "shuffled, epoch 1": (True, 1, False)}

    def table(fn) -> Table:
        padded = set(range(n, -(-n // world) * world))   # positions filled by wrapping round
        rows = [[dp_panels.marked(list(fn(n, world, r, shuffle=s, seed=0, epoch=e, drop_last=d)),
                                  set() if d else padded, r, world) for s, e, d in settings.values()]
                for r in range(world)]
        return dp_panels.shard_table(rows, n, world, list(settings))
    shown = attempt(console, student, "shard_indices", table)
    if shown is not None:
        console.print(shown)


def ring(parts: Parts, console: Console) -> None:
    console.rule("3 · ring all-reduce: reduce-scatter + all-gather over send/recv")
    keys = [key for key in ("ring2", "ring4", *(f"ring{n}" for n in range(5, 65))) if parts.ranks(key)]
    rows = []
    for key in keys:
        parts.show(key, "ring_all_reduce", lambda mine: rows.append(mine[0]))
    if rows:
        console.print(dp_panels.ring_table(rows))
        console.print("[dim]2(N−1)/N is 1 at N = 2 and 1.5 at N = 4: each rank sends about 2n, however many "
                      "ranks there are — the ring's whole point.[/]")


def ddp(parts: Parts, console: Console, world: int) -> None:
    from aisys.parallel.data_parallel.toys import make_toy, toy_batches, train_single_process

    console.rule("4 · DDP: one process per rank, gradients averaged, replicas stay equal")
    reference_model, losses = train_single_process(make_toy(P.SEED, hidden=P.HIDDEN), toy_batches(
        P.SEED + 1, P.DDP_STEPS, P.BATCH_PER_RANK * world), 0.05)
    reference = [loss for (loss,) in losses]
    final = {n: t.detach() for n, t in reference_model.state_dict().items()}
    for key, name in (("naive", "NaiveDDP"), ("bucketed", "BucketedDDP")):
        def draw(mine, name=name):
            first = mine[0]
            table = Table(title=f"{name}: loss per step vs one process on the full batch", title_justify="left")
            for column in ("step", f"{name} (mean over ranks)", "one process"):
                table.add_column(column)
            for i, (a, b) in enumerate(zip(first["losses"], reference)):
                table.add_row(str(i), f"{a:.6f}", f"{b:.6f}")
            console.print(table)
            diff = max(float((res["params"][n] - t).abs().max()) for res in mine for n, t in final.items())
            console.print(f"largest parameter difference from one process, over all ranks: {diff:.2e}")
            if first["buckets"]:
                buckets = Table(title=f"buckets (reverse parameter order, cap {P.BUCKET_CAP_MB} MiB)",
                                title_justify="left")
                buckets.add_column("bucket")
                buckets.add_column("parameters")
                for i, names in enumerate(first["buckets"]):
                    buckets.add_row(str(i), escape(", ".join(map(str, names))))
                console.print(buckets)
            slots = [SimpleNamespace(op=op, worker={"all_reduce": "network", "wait": "waiting"}.get(op.split()[0],
                                                                                                    "compute"),
                                     start=s * 1e3, end=e * 1e3) for op, s, e in first["spans"]]
            workers = list(dict.fromkeys(s.worker for s in slots))
            console.print(gantt(SimpleNamespace(workers=workers, slots=slots),
                                title=f"{name}, last step on rank 0: backward vs all-reduce", unit="ms"))
        parts.show(key, name, draw)
    console.print("[dim]Bucketed: all-reduces start inside backward (overlap); naive: only after it.[/]")


def parameter_server(parts: Parts, console: Console) -> None:
    console.rule("9 · parameter server: rank 0 serves, the others push gradients and pull parameters")

    def draw(mine):
        info = mine[0]
        if info["workers"] < 3:
            console.print(f"[yellow]only {info['workers']} worker(s) here: run with 4 or more ranks to see "
                          "stale gradients race[/]")
        console.print(dp_panels.ps_table(info["modes"], info["workers"], P.PS_ROUNDS))
        console.print("[dim]Same effective step: sync averages W gradients per update, async applies each with "
                      "lr/W. Without staleness async equals sync; stale copies (a worker pulls every "
                      "staleness+1 rounds) slow it down, then make it diverge.[/]")
    parts.show("ps", "ParameterServer", draw)

