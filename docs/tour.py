"""The README's tour is generated, never pasted: `python docs/tour.py --write` reruns every
command it quotes (in a fresh checkout with generated stubs, at 100 columns) and rewrites the
blocks between `<!-- tour:NAME -->` and `<!-- /tour -->`; `--check` exits 1 if they are stale.
A test runs the check, so a quoted score can't drift from what aisys prints."""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
# the planted bug: topo_sort counting distinct inputs instead of input edges
BUG = ("graphs.py", "len(node.inputs)", "len(set(node.inputs))")
COMMANDS = {
    "lab-list": [["lab", "list"]],
    "lab-run": [["lab", "run", "graph"]],
    "check": [["check", "graph"]],
    "bug": [["check", "graph:topo_sort"]],
}
HEAD_LINES = {"lab-run": 14}


def _checkout(root: Path, bug: bool) -> Path:
    sys.path.insert(0, str(REPO))
    from aisys.stubs import expected_stubs

    for path, text in expected_stubs(REPO).items():
        target = root / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    if bug:
        file, old, new = BUG
        solved = (REPO / "solutions" / "01_graph" / file).read_text()
        if old not in solved:
            raise SystemExit(f"docs/tour.py: the planted bug no longer applies ({old!r} not in {file})")
        (root / "labs" / "01_graph" / file).write_text(solved.replace(old, new, 1))
        for other in ("tensors.py", "functions.py"):
            shutil.copyfile(REPO / "solutions" / "01_graph" / other, root / "labs" / "01_graph" / other)
    return root


def render(name: str) -> str:
    with tempfile.TemporaryDirectory(prefix="aisys-tour-") as tmp:
        root = _checkout(Path(tmp), bug=name == "bug")
        out = []
        env = {**os.environ, "COLUMNS": "100", "PYTHONPATH": str(REPO), "NO_COLOR": "1", "TERM": "dumb"}
        for args in COMMANDS[name]:
            proc = subprocess.run([sys.executable, "-m", "aisys", *args], cwd=root, capture_output=True,
                                  text=True, env=env, timeout=600)
            lines = proc.stdout.replace(str(root), "~/aisys").rstrip().splitlines()
            lines = [line.rstrip() for line in lines if not line.startswith("isolation:")]   # per machine
            if name in HEAD_LINES and len(lines) > HEAD_LINES[name]:
                lines = lines[: HEAD_LINES[name]] + ["…"]
            out.append("$ aisys " + " ".join(args) + "\n" + "\n".join(lines))
        return "\n\n".join(out)


def update(text: str) -> str:
    def block(match: re.Match) -> str:
        return f"<!-- tour:{match['name']} -->\n```text\n{render(match['name'])}\n```\n<!-- /tour -->"
    return re.sub(r"<!-- tour:(?P<name>[\w-]+) -->.*?<!-- /tour -->", block, text, flags=re.S)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite README.md's tour blocks")
    parser.add_argument("--check", action="store_true", help="exit 1 if they are stale (the default)")
    args = parser.parse_args()
    current = README.read_text(encoding="utf-8")
    fresh = update(current)
    if args.write:
        README.write_text(fresh, encoding="utf-8")
    elif fresh != current:
        print("README.md's tour is stale: run python docs/tour.py --write")
        sys.exit(1)


if __name__ == "__main__":
    main()
