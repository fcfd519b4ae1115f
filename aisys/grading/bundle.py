"""`aisys grade-bundle`: a Gradescope autograder zip that grades with aisys itself.

Gradescope unpacks the zip into /autograder/source, runs `setup.sh` once (as root) to build
the image, then `run_autograder` for each submission, which must leave
/autograder/results/results.json. The zip carries the aisys package (never `solutions/`,
never the stubs): setup installs it with a CPU torch and locks the source directory away
from graded code; run_autograder calls `aisys check --submission` with the student code
run as the unprivileged `nobody` (AISYS_SANDBOX_USER) and writes the report even when the
grader itself fails. The secret seed comes from `--seed` (a file in the zip, root-only
after setup) or, at grading time, from the environment variable `--seed-env` names.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

from aisys.catalog import REPO_DIR, Lab
from aisys.errors import UserError

_EPOCH = (2020, 1, 1, 0, 0, 0)   # fixed timestamps: the same bundle twice is byte-identical
_SOURCE_FILES = ("pyproject.toml", "README.md")

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, to build the autograder image.
set -euo pipefail
SOURCE="${AISYS_BUNDLE_DIR:-/autograder/source}"
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1
if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
  apt-get update && apt-get install -y python3 python3-pip
fi
python3 -m pip install --index-url https://download.pytorch.org/whl/cpu "torch>=2.4,<3"
python3 -m pip install "$SOURCE"
chmod -R go-rwx "$SOURCE"   # the seed file and the checks' source: unreadable to graded code
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission. The report is the grader's, never the student's.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="${{AISYS_BUNDLE_DIR:-$ROOT/source}}"
PYTHON="${{AISYS_PYTHON:-python3}}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
SEED="${{{seed_env}:-}}"
if [ -z "$SEED" ] && [ -f "$SOURCE/seed" ]; then SEED="$(cat "$SOURCE/seed")"; fi
if [ "$(id -u)" = 0 ] && id -u nobody >/dev/null 2>&1; then export AISYS_SANDBOX_USER=nobody; fi
cd "$ROOT"
"$PYTHON" -m aisys check {labs} --submission "$ROOT/submission" --seed "${{SEED:-0}}" \\
  --timeout {timeout:g} --format gradescope --output "$RESULTS"
status=$?
if [ "$status" -ge 2 ] || [ ! -s "$RESULTS" ]; then
  printf '{{"score": 0, "output": "The autograder could not grade this submission (aisys exit %s). Please tell your instructor.", "tests": []}}\\n' "$status" > "$RESULTS"
fi
exit 0
"""


def write_bundle(output: Path, labs: list[Lab], *, seed: int | None, seed_env: str, timeout: float) -> list[str]:
    """Write the zip; returns the names inside it."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", seed_env):
        raise UserError(f"--seed-env must be an environment variable name, got {seed_env!r}")
    entries: dict[str, tuple[bytes, int]] = {
        "setup.sh": (SETUP.encode(), 0o755),
        "run_autograder": (RUN.format(seed_env=seed_env, labs=" ".join(lab.slug for lab in labs),
                                      timeout=timeout).encode(), 0o755),
    }
    if seed is not None:
        entries["seed"] = (f"{seed}\n".encode(), 0o600)
    for name in _SOURCE_FILES:
        entries[name] = ((REPO_DIR / name).read_bytes(), 0o644)
    for path in sorted((REPO_DIR / "aisys").rglob("*.py")):
        if "__pycache__" not in path.parts:
            entries[path.relative_to(REPO_DIR).as_posix()] = (path.read_bytes(), 0o644)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, (data, mode) in entries.items():
                info = zipfile.ZipInfo(name, date_time=_EPOCH)
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)
    except OSError as err:
        raise UserError(f"cannot write {output}: {err.strerror}") from None
    return list(entries)
