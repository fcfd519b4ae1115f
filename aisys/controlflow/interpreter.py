"""The dataflow interpreter: a node fires as soon as its firing rule says its inputs are
ready, one (frame, iteration) tag at a time, and every firing is logged.

Ordinary ops wait for all inputs of one tag; a dead input makes a dead output (nothing is
computed). The five control-flow primitives fire by *your* rules (`rules.switch`,
`rules.merge`, `rules.enter`, `rules.exit_`, `rules.next_iteration`), which is what makes
branches and loops work in a graph with no program counter.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Mapping

from aisys.controlflow.dataflow import DataflowGraph, Value
from aisys.controlflow.ops import OPS
from aisys.controlflow.tokens import ROOT, Tag, Token, frame_of, iteration_of, show_tag

MAX_FIRINGS = 50_000


class ExecutionError(RuntimeError):
    """The graph could not run (a rule returned garbage, a token collided, no end)."""


class RuleNotImplemented(ExecutionError):
    """A firing rule the graph needs is still a stub."""


@dataclass(frozen=True)
class Firing:
    step: int
    node: str
    op: str
    tag: Tag
    dead: bool
    value: Any
    scope: str | None = None

    @property
    def frame(self) -> str:
        return frame_of(self.tag)

    @property
    def iteration(self) -> int:
        return iteration_of(self.tag)


@dataclass
class Run:
    graph: DataflowGraph
    log: list[Firing] = field(default_factory=list)
    stacks: dict[str, list] = field(default_factory=dict)
    produced: dict[tuple[str, int, Tag], Token] = field(default_factory=dict)

    def value(self, v: Value) -> Any:
        """The value `v` took at the top level (ROOT tag)."""
        token = self.produced.get((v.node, v.port, ROOT))
        if token is None or token.dead:
            raise ExecutionError(f"{v.node} produced no live value at the top level: the graph "
                                 "stalled (a Merge that never fired? a loop that never exited?)")
        return token.value

    def live(self) -> list[Firing]:
        return [f for f in self.log if not f.dead]


class _Interpreter:
    def __init__(self, graph: DataflowGraph, rules: Any, max_firings: int):
        self.g, self.rules, self.max = graph, rules, max_firings
        self.run = Run(graph)
        self.slots: dict[tuple[str, Tag], list] = {}
        self.fired: set[tuple[str, Tag]] = set()
        self.queue: deque[tuple[str, Tag]] = deque()
        self.consumers: dict[tuple[str, int], list[tuple[str, int]]] = {}
        for node in graph.ir:
            for k, (src, port) in enumerate(zip(node.inputs, node.attrs["ports"])):
                self.consumers.setdefault((src, port), []).append((node.name, k))

    def rule(self, name: str, *args) -> Any:
        try:
            return getattr(self.rules, name)(*args)
        except NotImplementedError:
            raise RuleNotImplemented(f"the firing rule {name} is not implemented yet") from None

    def emit(self, node: str, port: int, token: Token | None, rule: str) -> None:
        if token is None:
            return
        if not isinstance(token, Token):
            raise ExecutionError(f"{rule} returned {type(token).__name__}, expected a Token or None")
        earlier = self.run.produced.get((node, port, token.tag))
        if earlier is not None and not earlier.dead and not token.dead:
            # one value per output and tag: e.g. an Exit fed every iteration, not once at the end
            raise ExecutionError(f"{node} sent out a second live token in {show_tag(token.tag)}: a loop "
                                 "variable leaves through Exit once, from the Switch's false side")
        self.run.produced[(node, port, token.tag)] = token
        for dst, k in self.consumers.get((node, port), []):
            slots = self.slots.setdefault((dst, token.tag), [None] * len(self.g.ir[dst].inputs))
            if (dst, token.tag) in self.fired and not token.dead and self.g.ir[dst].op == "Merge":
                raise ExecutionError(
                    f"a second live token reached {dst} in {show_tag(token.tag)} after it fired: "
                    "does NextIteration advance the iteration id?")
            if slots[k] is not None:
                raise ExecutionError(
                    f"two tokens reached input {k} of {dst} with the same tag {show_tag(token.tag)}: "
                    "do Enter/Exit/NextIteration set the tag right?")
            slots[k] = token
            self.queue.append((dst, token.tag))

    def fire(self, name: str, tag: Tag) -> None:
        if (name, tag) in self.fired:
            return
        node = self.g.ir[name]
        slots = self.slots.get((name, tag), [])
        if node.op == "Merge":
            out = self.rule("merge", list(slots))
            if out is None:
                return
            outs, rule = [out], "merge"
        elif any(s is None for s in slots):
            return
        else:
            outs, rule = self.compute(node, slots, tag)
        self.fired.add((name, tag))
        live = [t for t in outs if isinstance(t, Token) and not t.dead]
        self.run.log.append(Firing(len(self.run.log), name, node.op, tag, not live,
                                   live[0].value if len(live) == 1 else [t.value for t in live] or None,
                                   node.attrs.get("scope")))
        if len(self.run.log) > self.max:
            raise ExecutionError(f"more than {self.max} firings: a loop that never ends "
                                 "(a dead token going around again?)")
        for port, token in enumerate(outs):
            self.emit(name, port, token, rule)

    def compute(self, node, slots: list[Token], tag: Tag) -> tuple[list, str]:
        op = node.op
        if op == "Switch":
            out = self.rule("switch", slots[0], slots[1])
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise ExecutionError("switch must return a pair (false_side, true_side)")
            return list(out), "switch"
        if op == "Enter":
            return [self.rule("enter", slots[0], node.attrs["frame"])], "enter"
        if op == "Exit":
            return [self.rule("exit_", slots[0])], "exit_"
        if op == "NextIteration":
            return [self.rule("next_iteration", slots[0])], "next_iteration"
        if any(s.dead for s in slots):
            n_out = len(slots) if op == "StackPush" else 1
            return [Token(None, tag, True)] * n_out, op
        values = [s.value for s in slots]
        if op == "StackPush":
            self.run.stacks.setdefault(node.attrs["stack"], []).append(tuple(values))
            return [Token(v, tag) for v in values], op
        it = iter(values)
        args = [next(it) if c is None else c for c in node.attrs["operands"]]
        return [Token(OPS[op][0](*args), tag)], op


def execute(graph: DataflowGraph, rules: Any, feeds: Mapping[str, Any],
            max_firings: int = MAX_FIRINGS) -> Run:
    """Run `graph` once: feed each placeholder at the top level, fire until nothing is ready."""
    it = _Interpreter(graph, rules, max_firings)
    for node in graph.ir:
        if node.op == "input":
            if node.name not in feeds:
                raise ExecutionError(f"no value fed for placeholder {node.name!r}")
            it.run.log.append(Firing(len(it.run.log), node.name, "input", ROOT, False, feeds[node.name]))
            it.emit(node.name, 0, Token(feeds[node.name], ROOT), "input")
    while it.queue:
        it.fire(*it.queue.popleft())
    return it.run


def frame_iterations(log: list[Firing]) -> dict[tuple, int]:
    """Each loop frame *instance* (its tag without the innermost iteration id) → how many
    iterations ran live in it (counting the last one, whose predicate said stop)."""
    seen: dict[tuple, set[int]] = {}
    for f in log:
        if not f.dead and len(f.tag) > 1:
            seen.setdefault(f.tag[:-1] + (f.tag[-1][0],), set()).add(f.iteration)
    return {k: len(v) for k, v in seen.items()}
