"""The dispatch part of `aisys lab run scheduling`: the student's two-level Dispatcher beside a
`torch.library` custom op registered for the same keys."""
from __future__ import annotations

from aisys.ui.attempt import attempt
from aisys.ui.safe import escape
from aisys.ui.scheduling_panels import dispatch_table, lookup_table


def dispatch_demo(student, console) -> None:
    console.rule("[bold]two-level dispatch: (device, layout), then dtype[/]")
    import torch

    def scale_cpu(x, k=2.0):
        return x * k

    def scale_meta(x, k=2.0):
        return torch.empty_like(x)

    def build(cls):
        d = cls()
        d.register("scale", "cpu", "strided", ["float32", "float64", "int64"], scale_cpu)
        d.register("scale", "meta", "strided", ["float32", "float64", "int64"], scale_meta)
        return d

    ours = attempt(console, student, "Dispatcher", build)
    if ours is None:
        return
    table = attempt(console, student, "Dispatcher", lambda _: [tuple(escape(v) for v in row) for row in ours.table()])
    if table is not None:
        console.print(dispatch_table(table, "registered kernels (our Dispatcher)"))
    op, ran = _torch_scale()
    tensors = [("cpu float32", torch.ones(2)), ("cpu int64", torch.ones(2, dtype=torch.int64)),
               ("meta float32", torch.ones(2, device="meta")), ("cpu bfloat16", torch.ones(2, dtype=torch.bfloat16)),
               ("cpu sparse float32", torch.ones(2, 2).to_sparse())]
    rows = []
    for label, t in tensors:
        try:
            mine = escape(getattr(ours.dispatch("scale", t), "__name__", "?"))
        except Exception as err:  # LookupError is the answer; anything else is the student's bug, shown
            mine = f"[red]{escape(type(err).__name__)}[/]: {escape(str(err).split(' (')[0][:70])}"
        try:
            op(t, 2.0)
            theirs = ran[-1]
        except Exception as err:  # torch names the missing backend key (e.g. SparseCPU)
            theirs = f"[red]{escape(type(err).__name__)}[/]: {escape(str(err).split('. ')[0][:70])}"
        rows.append((f"scale({label})", mine, theirs))
    console.print(lookup_table(rows, "the same registrations, the same tensors"))
    console.print("[dim]torch.library registers per device key only: the dtype switch lives inside the kernel "
                  "(AT_DISPATCH_* in ATen), so bfloat16 reaches the CPU kernel there.[/]\n")


_SCALE: tuple | None = None


def _torch_scale():
    """A torch.library custom op with a CPU kernel and a fake (meta) kernel, defined once."""
    global _SCALE
    if _SCALE is None:
        import torch

        ran: list[str] = []

        @torch.library.custom_op("aisys_lab06::scale", mutates_args=(), device_types="cpu",
                                 schema="(Tensor x, float k) -> Tensor")
        def scale(x: torch.Tensor, k: float) -> torch.Tensor:
            ran.append("CPU kernel")
            return x * k

        @scale.register_fake
        def _(x, k):
            ran.append("fake kernel (Meta key)")
            return torch.empty_like(x)

        _SCALE = (scale, ran)
    return _SCALE
