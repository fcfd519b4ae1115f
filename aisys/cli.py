"""The `aisys` command line. Heavy imports (torch, the checks) happen inside commands only,
so `aisys --help` and `aisys lab list` stay instant."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from aisys import __version__
from aisys.catalog import LABS, REPO_DIR, find_lab
from aisys.errors import UserError

LANGS = click.Choice(["en", "zh"])


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _available(lab):
    if not lab.available:
        raise UserError(f"lab {lab.slug!r} is not available yet (see `aisys lab list`)")
    return lab


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aisys")
def cli() -> None:
    """aisys — hands-on labs for the internals of AI frameworks.

    \b
    aisys lab list              the nine labs, and your progress
    aisys lab show graph        read a lab's brief (--lang zh for 中文)
    aisys lab run graph         run the demo on your code
    aisys check graph           grade your code (graph:topo_sort: one exercise)

    \b
    instructors: aisys release, aisys grade-class, aisys grade-bundle (docs/class.md)
    """


@cli.group()
def lab() -> None:
    """List, read and run the labs."""


@lab.command("list")
@click.option("--labs-dir", type=click.Path(path_type=Path), help="a student workspace (default ./labs)")
def lab_list(labs_dir: Path | None) -> None:
    """All labs: number, slug, titles, exercises, points, and your progress (from your last check)."""
    from rich.table import Table

    from aisys.grading.command import load_progress
    from aisys.workspace import resolve_labs_dir

    progress = load_progress(resolve_labs_dir(labs_dir))
    table = Table(title="aisys labs", title_justify="left", caption="score: yours at your last `aisys check` "
                  "of the whole lab (– not yet checked); ex.: exercises", caption_justify="left")
    for column in ("#", "slug", "title", "标题", "ex.", "score"):
        table.add_column(column, no_wrap=column in ("#", "slug", "score", "标题"),
                         justify="right" if column in ("ex.", "score") else "left")
    for item in LABS:
        mine = progress.get(item.slug) if isinstance(progress.get(item.slug), dict) else None
        if not item.available:
            score = "[dim]not available yet[/]"
        elif mine and isinstance(mine.get("score"), (int, float)):
            done = mine["score"] >= item.max_score
            score = f"[{'green' if done else 'yellow'}]{mine['score']:g}/{item.max_score:g}[/]"
        else:
            score = f"[dim]–/{item.max_score:g}[/]"
        table.add_row(f"{item.number:02d}", item.slug, item.title_en, item.title_zh, str(len(item.exercises)), score)
    _console().print(table)


@lab.command("show")
@click.argument("name")
@click.option("--lang", type=LANGS, default="en", show_default=True, help="en: README.md, zh: README.zh.md")
@click.option("--labs-dir", type=click.Path(path_type=Path), help="a student workspace (default ./labs)")
def lab_show(name: str, lang: str, labs_dir: Path | None) -> None:
    """Print a lab's brief in the terminal."""
    from aisys.catalog import REPO_DIR
    from aisys.ui.brief import brief
    from aisys.workspace import resolve_labs_dir

    item = find_lab(name)
    filename = "README.zh.md" if lang == "zh" else "README.md"
    candidates = [resolve_labs_dir(labs_dir) / item.folder / filename, REPO_DIR / "labs" / item.folder / filename]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise UserError(f"lab {item.slug!r} has no brief yet ({filename})")
    _console().print(brief(path))


@lab.command("run")
@click.argument("name")
@click.option("--solution", is_flag=True, help="run the reference answers instead of your code",
              hidden=not (REPO_DIR / "solutions").is_dir())
@click.option("--labs-dir", type=click.Path(path_type=Path), help="a student workspace (default ./labs)")
@click.option("--dot", type=click.Path(path_type=Path, dir_okay=False), help="graph labs: write a graph as DOT")
@click.option("--trace", type=click.Path(path_type=Path, dir_okay=False),
              help="scheduling lab: write the timelines as Chrome trace JSON")
@click.option("--nproc", type=click.IntRange(1, 64), default=2, show_default=True,
              help="parallel labs: ranks to spawn")
@click.option("--backend", type=click.Choice(["auto", "gloo", "nccl"]), default="auto", show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--timeout", type=click.FloatRange(1, 86400), default=300.0, show_default=True,
              help="stop the demo after this many seconds (an endless loop in your code)")
@click.pass_context
def lab_run(ctx, name: str, solution: bool, labs_dir: Path | None, dot, trace, nproc, backend, device,
            timeout) -> None:
    """Run a lab's demo on your code and show what it does."""
    from aisys.labrun import DemoOptions, run_demo
    from aisys.ui.safe import escape
    from aisys.workspace import Student, display_path, resolve_labs_dir

    item = _available(find_lab(name))
    if solution:
        _needs_solutions("--solution")
    where = _lab_folder_in(resolve_labs_dir(labs_dir, solutions=solution), item)
    for path in (dot, trace):
        if path is not None and not path.resolve().parent.is_dir():
            raise UserError(f"cannot write {path}: the folder {path.parent} does not exist")
    console = _console()
    unused = [f"--{flag}" for flag in ("dot", "trace", "nproc", "backend", "device")
              if flag not in item.demo_flags
              and ctx.get_parameter_source(flag) is not click.core.ParameterSource.DEFAULT]
    if unused:
        console.print(f"[yellow]note: lab {item.slug} does not use {', '.join(unused)}[/]")
    if os.environ.get("RANK", "0") == "0":   # under torchrun, one header for the whole job
        from rich.cells import cell_len

        title = f"lab {item.number:02d} {item.slug} — {item.title_en} / {item.title_zh}"
        if cell_len(title) > console.width - 6:        # never cut the 中文 title: drop the English one
            title = f"lab {item.number:02d} {item.slug} — {item.title_zh}"
        console.rule(title)
        console.print(f"[dim]your files: {escape(display_path(where / item.folder))}[/]", justify="center")
    options = DemoOptions(solution=solution, dot=dot, trace=trace, nproc=nproc, backend=backend,
                          device=device, timeout=timeout)
    try:
        code = run_demo(item, Student(item, where), console, options)
    except OSError as err:   # e.g. --dot into a read-only folder
        raise UserError(f"{err.strerror or err}: {getattr(err, 'filename', '') or ''}".rstrip(": ")) from None
    sys.exit(code)


def _lab_folder_in(where: Path, item) -> Path:
    """`where` if it holds the lab's folder; a clear error if it is not a labs directory."""
    if not (where / item.folder).is_dir():
        raise UserError(f"{where} has no {item.folder}/ folder — is it a labs directory?")
    return where


ISOLATION = click.Choice(["auto", "best", "namespaces", "uid", "none"])


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--labs-dir", type=click.Path(path_type=Path), help="a student workspace (default ./labs)")
@click.option("--solutions", is_flag=True, help="grade the reference answers (a test of the checks)",
              hidden=not (REPO_DIR / "solutions").is_dir())
@click.option("--submission", type=click.Path(path_type=Path), multiple=True,
              help="a student's submitted copy: only the lab files the catalog names are read from it")
@click.option("--student", help="who the submission is from, for the report (default: its folder's name)")
@click.option("--seed", help="input seed, 0 (public) by default; instructors use a secret one")
@click.option("--seed-file", type=click.Path(path_type=Path, dir_okay=False),
              help="read the seed from this file ('-': stdin), so it never appears on a command line")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit", "gradescope"]), default="text",
              show_default=True)
@click.option("--output", type=click.Path(path_type=Path), help="write the report to this file")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=120.0, show_default=True,
              help="seconds per lab")
@click.option("--jobs", type=click.IntRange(0, 32), default=0,
              help="labs graded at once [default: 0 = as many as CPU cores, at most 2]")
@click.option("--isolation", type=ISOLATION, default="auto", show_default=True,
              help="where graded code runs: namespaces (bubblewrap), uid (root: as nobody), none; "
                   "auto: namespaces when available; best: namespaces, else uid")
@click.option("--no-isolation", is_flag=True,
              help="instructors: grade a submission without kernel isolation (the report records it)")
def check(names, labs_dir, solutions, submission, student, seed, seed_file, fmt, output, timeout, jobs,
          isolation, no_isolation) -> None:
    """Grade labs (all built labs when none is named; LAB:EXERCISE for one exercise).
    Exit 0: all passed, 1: not yet, 2: error."""
    from aisys.grading.command import (check_seed, graded_dir, mark_refused, parse_targets, read_seed,
                                       run_check, save_progress, write_report)
    from aisys.grading.formats import FORMATS
    from aisys.grading.formats.text import lab_table, summary
    from aisys.grading.isolation import choose

    if len(submission) > 1:
        raise UserError("give one --submission (to grade many students at once: aisys grade-class)")
    submission = submission[0] if submission else None
    if solutions:
        _needs_solutions("--solutions")
    labs, only = parse_targets(names)
    labs = [_available(item) for item in labs]
    seed_value, hidden = read_seed(None if seed is None else check_seed(seed), seed_file)
    chosen = choose("none" if no_isolation else isolation, untrusted=submission is not None)
    jobs = jobs or min(2, os.cpu_count() or 1)
    show_tables = fmt == "text" and output is None
    with graded_dir(labs_dir, solutions, submission) as graded:
        if submission is None:   # a submission may hold only some labs; a workspace must hold them
            labs = [_lab_folder_in(graded.where, item) and item for item in labs] if names else \
                [item for item in labs if (graded.where / item.folder).is_dir()]
            if not labs:
                raise UserError(f"{graded.where} holds no lab folders (like 01_graph/) — is it a labs directory?")
        report = run_check(labs, graded.where, graded.shown, seed=seed_value, timeout=timeout, jobs=jobs,
                           console=_console(stderr=True), renames=graded.renames, isolation=chosen, only=only,
                           seed_hidden=hidden)
        mark_refused(report, graded.refused)
        if submission is not None:
            from aisys.grading.similarity import matches_reference

            report.extra["matches_reference"] = matches_reference(graded.where, labs)
            report.extra["student"] = student or submission.resolve().name
    if submission is None and not solutions:
        save_progress(graded.where, report)
    text = FORMATS[fmt](report)
    if output is not None:
        write_report(output, text)
        _console(stderr=True).print(summary(report))
    elif show_tables:
        console = _console()
        for result in report.labs:
            console.print(lab_table(result))
        console.print(summary(report))
    else:
        click.echo(text, nl=False)
    sys.exit(0 if report.all_passed else 1)


def _needs_solutions(what: str) -> None:
    """The student edition ships without reference answers: say so in one line."""
    from aisys.catalog import REPO_DIR

    if not (REPO_DIR / "solutions").is_dir():
        raise UserError(f"{what}: this edition has no reference answers (it is the student edition)")


from aisys import cli_instructor  # noqa: E402,F401 - registers grade-class, grade-bundle, release, stubs


def main() -> None:
    """Entry point: user errors become one line on stderr and an exit code, never a traceback."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except UserError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
