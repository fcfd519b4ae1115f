"""Where graded code runs: kernel isolation for untrusted code, today's guard for one's own.

Three modes, and every report says which one it ran under:

- `namespaces` — bubblewrap (`bwrap`): its own user, PID, mount, IPC, UTS and network
  namespaces (loopback only: gloo ranks still talk), an unprivileged uid, a read-only root
  filesystem (and /dev) of read-only binds (the system, the Python install, the aisys package — nothing else of the
  repository: no `solutions/`, no reports, no other student), private size-limited tmpfs at
  `/tmp` and `/dev/shm`, its own `/proc`. Killing the sandbox's first process ends the PID
  namespace, so nothing it forked or `setsid`'d survives. As root, bwrap runs as `nobody`
  (the mounts it needs are made first in a private mount namespace, so a Python under
  `/root` still works) and `RLIMIT_NPROC` then really binds.
- `uid` — no namespaces (e.g. a container that forbids them), but root can still run graded
  code as another user: it cannot write the grader's files or signal it. Chosen explicitly.
- `none` — the student's own machine: graded code runs as the student, under the audit-hook
  guard, which stops honest mistakes, not attackers.

Untrusted runs (`--submission`, `grade-class`, the grade bundle) fail closed: without
isolation they refuse, unless the instructor opts out — and the report records that.
"""
from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from aisys.errors import UserError

SANDBOX_UID = 65534            # nobody
TMPFS_BYTES = 512 * 2**20      # the sandbox's /tmp: staged work, rendezvous files, feedback
SHM_BYTES = 64 * 2**20
MODES = ("auto", "best", "namespaces", "uid", "none")
HOW_TO_GET = ("install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) on Linux with unprivileged "
              "user namespaces enabled (`unshare -Ur true` must work)")


@dataclass(frozen=True)
class Isolation:
    mode: str                  # namespaces | uid | none
    detail: str                # one line for the report
    opted_out: bool = False    # an untrusted run the instructor chose to run without isolation
    uid: int | None = None     # the uid graded code runs as (namespaces as root, uid mode)

    def to_dict(self) -> dict:
        return asdict(self)


def choose(requested: str = "auto", *, untrusted: bool = False) -> Isolation:
    """The isolation to grade under, or a UserError saying what is missing (fail closed)."""
    if requested not in MODES:
        raise UserError(f"unknown isolation {requested!r}: use one of {', '.join(MODES)}")
    available, why_not = bubblewrap_works()
    if requested == "none":
        if untrusted:
            return Isolation("none", "none: the instructor chose to grade untrusted code without isolation "
                                     "(--no-isolation)", opted_out=True)
        return Isolation("none", "none (self-check: the audit-hook guard only)")
    if requested in ("auto", "best", "namespaces") and available:
        uid = SANDBOX_UID if _is_root() else None
        who = "uid 65534 (nobody)" if uid is not None else "your uid mapped to nobody"
        return Isolation("namespaces", f"namespaces: bubblewrap, {who}, own pid/mount/ipc/net namespaces, "
                                       f"read-only root, {TMPFS_BYTES >> 20} MiB tmpfs", uid=uid)
    if requested == "namespaces":
        raise UserError(f"kernel isolation is not available here ({why_not}): {HOW_TO_GET}")
    if requested in ("uid", "best") and _is_root():
        unreadable = unreachable_for_others()
        if unreadable:    # fail closed: never fall back to running graded code as root
            raise UserError(f"cannot run graded code as nobody: {unreadable} is not readable by other users "
                            "(install Python system-wide, or use namespaces: " + HOW_TO_GET + ")")
        return Isolation("uid", "uid: graded code runs as nobody (no namespaces in this container: "
                                f"{why_not})", uid=SANDBOX_UID)
    if requested == "uid":
        raise UserError("--isolation uid needs root (to run graded code as another user)")
    if untrusted:
        raise UserError(f"grading untrusted code needs kernel isolation, which is not available here "
                        f"({why_not}): {HOW_TO_GET}; or pass --no-isolation to grade without it "
                        "(the report records that)")
    return Isolation("none", f"none (self-check: the audit-hook guard only; no namespaces here: {why_not})")


def unreachable_for_others() -> str:
    """'' when another user can run this Python and import aisys; else the first path that
    stops them (a folder without o+x, a file without o+r)."""
    import os as _os

    from aisys.catalog import PACKAGE_DIR

    for path in (Path(sys.executable).resolve(), Path(_os.__file__).resolve(), PACKAGE_DIR / "cli.py"):
        try:
            if not path.stat().st_mode & 0o004:
                return str(path)
            for parent in path.parents:
                if not parent.stat().st_mode & 0o001:
                    return str(parent)
        except OSError:
            return str(path)
    return ""


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@functools.lru_cache(maxsize=None)
def bubblewrap_works() -> tuple[bool, str]:
    """(True, "") when a bwrap sandbox like ours starts here; else (False, why not)."""
    if not sys.platform.startswith("linux"):
        return False, f"namespaces are Linux's, this is {sys.platform}"
    if os.environ.get("AISYS_NO_BWRAP"):
        return False, "AISYS_NO_BWRAP is set"
    if not shutil.which("bwrap"):
        return False, "bwrap is not installed"
    argv = sandbox_argv([sys.executable, "-I", "-c", "pass"], binds=[], workdir="/tmp")
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"bwrap did not start ({err})"
    if proc.returncode != 0:
        return False, f"bwrap failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:] or ['?']}"[:300]
    return True, ""


def python_roots() -> list[str]:
    """Host folders the sandboxed Python needs: its install, its venv, its site-packages."""
    import site
    import sysconfig

    roots = {sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix,
             sysconfig.get_paths().get("purelib", ""), sysconfig.get_paths().get("platlib", "")}
    try:
        roots.update(site.getsitepackages())
    except AttributeError:   # some virtualenvs
        pass
    user_site = getattr(site, "USER_SITE", None)
    if user_site and os.path.isdir(user_site) and user_site in sys.path:
        roots.add(user_site)
    found = sorted(r for r in roots if r and os.path.isdir(r) and not r.startswith(("/usr/", "/etc/")))
    return [r for r in found if not any(r != o and r.startswith(o.rstrip("/") + "/") for o in found)]


def sandbox_argv(command: list[str], *, binds: list[str], workdir: str) -> list[str]:
    """The command line that runs `command` in a bwrap sandbox with `binds` (host folders,
    bound read-only at the same path) visible besides the system and Python."""
    ro = [p for p in dict.fromkeys([*python_roots(), *binds]) if p and os.path.exists(p)]
    bwrap = ["bwrap", "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-net", "--unshare-uts",
             "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "aisys-sandbox",
             "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
             "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for name in ("bin", "lib", "lib32", "lib64", "sbin"):
        top = Path("/") / name
        if top.is_symlink():
            bwrap += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            bwrap += ["--ro-bind", str(top), str(top)]
    bwrap += ["--proc", "/proc", "--dev", "/dev",
              "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp",
              "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm"]
    for device in sorted(Path("/dev").glob("nvidia*")):   # GPUs, where present
        bwrap += ["--dev-bind", str(device), str(device)]
    if any(Path("/dev").glob("nvidia*")) and Path("/sys").is_dir():
        bwrap += ["--ro-bind", "/sys", "/sys"]
    # last: the root and /dev (both tmpfs bwrap made, unsized) read-only, so only the sized
    # /tmp and /dev/shm take writes — nothing can fill memory or plant a module on sys.path
    seal = ["--remount-ro", "/dev", "--remount-ro", "/"]
    if not _is_root():
        for path in ro:
            bwrap += ["--ro-bind", path, path]
        return bwrap + seal + ["--chdir", workdir, "--", *command]
    # As root: bind each folder into a staging point inside a private mount namespace first,
    # then drop to nobody and let bwrap (unprivileged) bind the staging points into place —
    # so folders under /root (0700) are reachable without being readable on the host.
    stage = "/run/aisys-stage" if os.path.isdir("/run") else "/tmp/aisys-stage"
    mounts = []
    for i, path in enumerate(ro):
        point = f"{stage}/{i}"
        kind = "-d" if os.path.isdir(path) else "-f"
        mounts.append(f"{'mkdir -p' if kind == '-d' else 'touch'} {point}; mount --bind {shlex.quote(path)} {point}")
        bwrap += ["--ro-bind", point, path]
    bwrap += seal + ["--chdir", workdir, "--", *command]
    script = (f"set -e; mkdir -p {stage}; mount -t tmpfs -o size=1m,mode=755 aisys-stage {stage}; "
              + "; ".join(mounts) + f"; exec setpriv --reuid={SANDBOX_UID} --regid={SANDBOX_UID} "
              "--clear-groups " + shlex.join(bwrap))
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
