"""`aisys grade-bundle`: a Gradescope autograder zip that grades with aisys itself.

Gradescope unpacks the zip into /autograder/source, runs `setup.sh` once (as root) to build
the image, then `run_autograder` for each submission, which must leave
/autograder/results/results.json. The zip carries the aisys package (never `solutions/`,
never the stubs) and pins what it was built with: setup installs bubblewrap when it can,
then creates a virtual environment with the exact torch (CPU wheel), numpy, rich and click
versions the instructor had, and the bundled aisys itself — so ground truth comes from the
versions somebody tested, and a local trial of the zip exercises the same code path as
Gradescope. run_autograder grades `--submission` under the strongest isolation the
container allows (namespaces, else a separate uid; it records which) and writes the report
even when the grader itself fails. The secret seed never travels on a command line: it is a
root-only file in the zip, or — set at grading time — the environment variable `--seed-env`
names, copied into a root-only file.
"""
from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

from aisys.catalog import REPO_DIR, Lab
from aisys.errors import UserError

_EPOCH = (2020, 1, 1, 0, 0, 0)   # fixed timestamps: the same bundle twice is byte-identical
_SOURCE_FILES = ("pyproject.toml", "README.md")

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, to build the autograder image. A local trial runs it too:
#   AUTOGRADER_ROOT=/tmp/ag AISYS_BUNDLE_DIR=/tmp/ag/source bash setup.sh
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="${{AISYS_BUNDLE_DIR:-$ROOT/source}}"
VENV="${{AISYS_VENV:-$ROOT/aisys-venv}}"
PYTHON="${{AISYS_BASE_PYTHON:-python3}}"
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1
if [ -z "${{AISYS_SKIP_APT:-}}" ] && command -v apt-get >/dev/null; then
  apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv bubblewrap >/dev/null || true
fi
"$PYTHON" -m venv --system-site-packages --without-pip "$VENV"    # the system's pip and setuptools serve it
PIP=("$PYTHON" -m pip --python "$VENV/bin/python" install --quiet)
"${{PIP[@]}}" --extra-index-url https://download.pytorch.org/whl/cpu {pins}
"${{PIP[@]}}" --no-deps --no-build-isolation "$SOURCE"
chmod -R go-rwx "$SOURCE"   # the seed file and the checks' source: unreadable to graded code
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission. The report is the grader's, never the student's.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="${{AISYS_BUNDLE_DIR:-$ROOT/source}}"
VENV="${{AISYS_VENV:-$ROOT/aisys-venv}}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
umask 077
SEED_FILE="$(mktemp)"
trap 'rm -f "$SEED_FILE"' EXIT
if [ -n "${{{seed_env}:-}}" ]; then printf '%s\\n' "${{{seed_env}}}" > "$SEED_FILE"
elif [ -f "$SOURCE/seed" ]; then cat "$SOURCE/seed" > "$SEED_FILE"
else echo 0 > "$SEED_FILE"; fi
cd "$ROOT"
"$VENV/bin/python" -m aisys check {labs} --submission "$ROOT/submission" --seed-file "$SEED_FILE" \\
  --isolation best --timeout {timeout:g} --format gradescope --output "$RESULTS"
status=$?
if [ "$status" -ge 2 ] || [ ! -s "$RESULTS" ]; then
  printf '{{"score": 0, "output": "The autograder could not grade this submission (aisys exit %s). Please tell your instructor.", "tests": []}}\\n' "$status" > "$RESULTS"
fi
exit 0
"""


def pinned_requirements() -> list[str]:
    """The exact versions this bundle is built with (torch without its local '+cpu' tag)."""
    pins = []
    for name in ("torch", "numpy", "rich", "click"):
        try:
            from importlib.metadata import version

            pins.append(f"{name}=={version(name).split('+')[0]}")
        except Exception:   # noqa: BLE001 - not installed: leave it to pyproject's range
            continue
    return pins


def write_bundle(output: Path, labs: list[Lab], *, seed: int | None, seed_env: str, timeout: float) -> list[str]:
    """Write the zip; returns the names inside it. `seed` None means the public seed 0."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", seed_env):
        raise UserError(f"--seed-env must be an environment variable name, got {seed_env!r}")
    pins = " ".join(f"'{pin}'" for pin in pinned_requirements())
    entries: dict[str, tuple[bytes, int]] = {
        "setup.sh": (SETUP.format(pins=pins).encode(), 0o755),
        "run_autograder": (RUN.format(seed_env=seed_env, labs=" ".join(lab.slug for lab in labs),
                                      timeout=timeout).encode(), 0o755),
        "seed": (f"{seed or 0}\n".encode(), 0o600),
        "PINNED.txt": (("\n".join(pinned_requirements()) + f"\npython {sys.version.split()[0]}\n").encode(), 0o644),
    }
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
