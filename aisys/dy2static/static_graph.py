"""A static graph of torch calls: what a tracer records and replays.

Each node is one call `target(*args, **kwargs)`; an argument that was produced by an
earlier node (or is a graph input) is a `Ref` to it, anything else (a Python number, a
tensor created outside the function) is a constant baked into the graph. Replaying runs
the nodes in order on new inputs — no Python of the original function runs again, which
is exactly why a traced graph cannot follow a branch it did not see.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from torch.utils._pytree import tree_map


@dataclass(frozen=True)
class Ref:
    """The output of node `name` (element `index` when the node returned a tuple)."""

    name: str
    index: int | None = None

    def __repr__(self) -> str:
        return f"%{self.name}" + (f"[{self.index}]" if self.index is not None else "")


@dataclass
class CallNode:
    name: str
    target: Callable
    args: tuple
    kwargs: dict = field(default_factory=dict)


def target_name(target: Callable) -> str:
    """'torch.relu', 'Tensor.add', 'Tensor.__mul__'."""
    owner = getattr(target, "__objclass__", None) or getattr(target, "__self__", None)
    name = getattr(target, "__name__", repr(target))
    if owner is not None and getattr(owner, "__name__", "") in ("Tensor", "TensorBase"):
        return f"Tensor.{name}"
    module = getattr(target, "__module__", None) or "torch"
    return f"{'torch' if module.startswith('torch') else module}.{name}"


class StaticGraph:
    """Inputs, call nodes in execution order, and an output structure of Refs."""

    def __init__(self) -> None:
        self.inputs: list[str] = []
        self.nodes: list[CallNode] = []
        self.output: Any = None
        self.notes: list[str] = []   # what the tracer baked in (e.g. a tensor turned into a bool)

    def placeholder(self) -> Ref:
        name = f"x{len(self.inputs)}"
        self.inputs.append(name)
        return Ref(name)

    def call(self, target: Callable, args: tuple, kwargs: dict | None = None) -> Ref:
        """Append a node; `args`/`kwargs` may hold Refs (also inside lists and tuples)."""
        node = CallNode(f"v{len(self.nodes)}", target, tuple(args), dict(kwargs or {}))
        self.nodes.append(node)
        return Ref(node.name)

    def set_output(self, output: Any) -> None:
        self.output = output

    def __call__(self, *inputs: Any) -> Any:
        """Replay on new inputs."""
        if len(inputs) != len(self.inputs):
            raise TypeError(f"graph takes {len(self.inputs)} inputs, got {len(inputs)}")
        env: dict[str, Any] = dict(zip(self.inputs, inputs))

        def resolve(x):
            if isinstance(x, Ref):
                value = env[x.name]
                return value if x.index is None else value[x.index]
            return x
        for node in self.nodes:
            env[node.name] = node.target(*tree_map(resolve, node.args), **tree_map(resolve, node.kwargs))
        return tree_map(resolve, self.output)

    def op_names(self) -> list[str]:
        return [target_name(n.target) for n in self.nodes]

    def __len__(self) -> int:
        return len(self.nodes)

    def __str__(self) -> str:
        def show(x):
            if isinstance(x, (list, tuple)):
                inner = ", ".join(show(v) for v in x)
                return f"[{inner}]" if isinstance(x, list) else f"({inner})"
            if type(x).__name__ in ("Tensor", "Parameter"):
                return f"tensor{tuple(x.shape)}"
            return repr(x)
        lines = [f"graph({', '.join('%' + i for i in self.inputs)}):"]
        for n in self.nodes:
            args = [show(a) for a in n.args] + [f"{k}={show(v)}" for k, v in n.kwargs.items()]
            lines.append(f"    %{n.name} = {target_name(n.target)}({', '.join(args)})")
        lines.append(f"    return {show(self.output)}")
        return "\n".join(lines)
