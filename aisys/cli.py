"""The `aisys` command line. Heavy imports (torch, the checks) happen inside commands only,
so `aisys --help` and `aisys lab list` stay instant."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from aisys import __version__
from aisys.catalog import LABS, find_lab, find_labs
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
    aisys lab list              the eight labs
    aisys lab show graph        read a lab's brief (--lang zh for 中文)
    aisys lab run graph         run the demo on your code (--solution: the reference)
    aisys check graph           grade your code
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
    table = Table(title="aisys labs", title_justify="left",
                  caption="status: your score at your last `aisys check` of that lab", caption_justify="left")
    for column in ("#", "slug", "title", "标题", "exercises", "points", "status"):
        table.add_column(column, no_wrap=column in ("#", "slug", "status", "标题"))
    for item in LABS:
        mine = progress.get(item.slug) if isinstance(progress.get(item.slug), dict) else None
        if not item.available:
            status = "[dim]not available yet[/]"
        elif mine and isinstance(mine.get("score"), (int, float)):
            done = mine["score"] >= item.max_score
            status = f"[{'green' if done else 'yellow'}]{mine['score']:g}/{item.max_score:g}[/]"
        else:
            status = "[dim]–[/]"
        table.add_row(f"{item.number:02d}", item.slug, item.title_en, item.title_zh,
                      str(len(item.exercises)), f"{item.max_score:g}", status)
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
@click.option("--solution", is_flag=True, help="run the reference answers instead of your code")
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
@click.option("--solutions", is_flag=True, help="grade the reference answers (a test of the checks)")
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


@cli.command("grade-bundle")
@click.argument("names", nargs=-1)
@click.option("--output", type=click.Path(path_type=Path), default=Path("autograder.zip"), show_default=True)
@click.option("--seed", help="the secret seed, stored in the zip (root-only once installed)")
@click.option("--seed-file", type=click.Path(path_type=Path, dir_okay=False),
              help="read the secret seed from this file ('-': stdin) instead")
@click.option("--public-seed", is_flag=True, help="grade with the public seed 0 (students can reproduce it)")
@click.option("--seed-env", default="AISYS_SECRET_SEED", show_default=True,
              help="an environment variable that, when set at grading time, overrides the seed")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=300.0, show_default=True, help="seconds per lab")
def grade_bundle(names, output, seed, seed_file, public_seed, seed_env, timeout) -> None:
    """Instructors: write a Gradescope autograder zip grading the named labs (default: all built)."""
    from aisys.grading.bundle import write_bundle
    from aisys.grading.command import check_seed, read_seed

    if seed is None and seed_file is None and not public_seed:
        raise UserError("give the secret seed (--seed N or --seed-file FILE), or --public-seed to grade "
                        "with the public seed 0 that students see")
    if public_seed and (seed is not None or seed_file is not None):
        raise UserError("give --public-seed or a seed, not both")
    value, _ = read_seed(None if seed is None else check_seed(seed), seed_file)
    labs = [_available(item) for item in find_labs(list(names))]
    inside = write_bundle(output, labs, seed=value, seed_env=seed_env, timeout=timeout)
    _console().print(f"wrote {output} ({len(inside)} files) grading {', '.join(l.slug for l in labs)}; "
                     "upload it as the assignment's autograder")


@cli.command("grade-class")
@click.argument("submissions", type=click.Path(path_type=Path))
@click.argument("names", nargs=-1)
@click.option("--output-dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="where the reports, grades.csv and summary.html go")
@click.option("--seed", help="the secret seed (better: --seed-file, which keeps it off command lines)")
@click.option("--seed-file", type=click.Path(path_type=Path, dir_okay=False), help="read the seed from this file")
@click.option("--formats", default="json,junit,gradescope,text", show_default=True,
              help="report formats to write for every student (comma-separated)")
@click.option("--jobs", type=click.IntRange(1, 64), default=2, show_default=True, help="students graded at once")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=300.0, show_default=True, help="seconds per lab")
@click.option("--force", is_flag=True, help="grade again students whose files and seed did not change")
@click.option("--isolation", type=ISOLATION, default="auto", show_default=True,
              help="namespaces (default when available), uid (root, no namespaces), none (see --no-isolation)")
@click.option("--no-isolation", is_flag=True, help="grade without kernel isolation (recorded in every report)")
def grade_class(submissions, names, output_dir, seed, seed_file, formats, jobs, timeout, force, isolation,
                no_isolation) -> None:
    """Instructors: grade every student in SUBMISSIONS (a folder or .zip each; Gradescope,
    GitHub Classroom, Canvas and Moodle downloads work as they come) on LABS (default: all).

    Writes OUT/students/<student>/ reports, OUT/grades.csv and OUT/summary.html."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    from aisys.grading.classroom import FILES, ClassRun, grade_class as run_class
    from aisys.grading.command import check_seed, parse_targets, read_seed, write_report
    from aisys.grading.formats.summary_html import render_summary_html
    from aisys.grading.formats.summary_text import summary_view
    from aisys.grading.gradebook import grades_csv, summarize
    from aisys.grading.isolation import choose
    from aisys.grading.roster import find_submissions
    from aisys.ui.safe import escape

    wanted = [f.strip() for f in formats.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in FILES]
    if unknown or not wanted:
        raise UserError(f"unknown format {', '.join(unknown) or '(none)'}: use some of {', '.join(FILES)}")
    labs, only = parse_targets(names)
    labs = [_available(item) for item in labs]
    seed_value, hidden = read_seed(None if seed is None else check_seed(seed), seed_file)
    chosen = choose("none" if no_isolation else isolation, untrusted=True)
    subs = find_submissions(submissions)
    run = ClassRun(labs=labs, only=only, out=output_dir, seed=seed_value, seed_hidden=hidden, isolation=chosen,
                   formats=wanted, timeout=timeout, force=force)
    err = _console(stderr=True)
    err.print(f"grading {len(subs)} students on {', '.join(l.slug for l in labs)} "
              f"(seed {'hidden' if hidden else seed_value}, isolation: {chosen.mode}, {jobs} at a time)")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task("students", total=len(subs))

        def step(row, reused):
            total = f"{row.report.score:g}" if row.report is not None else "error"
            progress.console.print(f"  {escape(row.student)}: {total}{' (unchanged, reused)' if reused else ''}")
            progress.advance(task)
        rows = run_class(subs, run, jobs=jobs, progress=step)
    write_report(output_dir / "grades.csv", grades_csv(rows, labs, only))
    summary = summarize(rows, labs, only)
    write_report(output_dir / "summary.html",
                 render_summary_html(summary, rows, f"aisys — {', '.join(l.slug for l in labs)}"))
    _console().print(summary_view(summary))
    _console().print(f"wrote {output_dir / 'grades.csv'}, {output_dir / 'summary.html'} and "
                     f"{len(rows)} student folders under {output_dir / 'students'}")


@cli.command()
@click.argument("out", type=click.Path(path_type=Path, file_okay=False))
def release(out: Path) -> None:
    """Instructors: write the student edition (no reference answers) into the new folder OUT."""
    from aisys.grading.release import build_release

    files = build_release(out)
    _console().print(f"wrote the student edition to {out} ({len(files)} files, no reference answers); "
                     "hand it out, keep this repository")


@cli.command(hidden=True)
@click.option("--check", "check_only", is_flag=True, help="exit 1 if labs/ differs from the generated stubs")
@click.option("--force", is_flag=True, help="also replace lab files you edited (a backup is kept)")
def stubs(check_only: bool, force: bool) -> None:
    """Maintainers: regenerate labs/ stubs from solutions/ (never silently over your edits)."""
    from aisys.stubs import drifted_stubs, write_stubs

    _needs_solutions("aisys stubs")
    if check_only:
        drifted = drifted_stubs()
        for path in drifted:
            click.echo(f"drifted: {path}")
        sys.exit(1 if drifted else 0)
    written, backup = write_stubs(force=force)
    for path in written:
        click.echo(f"wrote {path}")
    if backup is not None:
        click.echo(f"your edited files were copied to {backup} first")


def _needs_solutions(what: str) -> None:
    """The student edition ships without reference answers: say so in one line."""
    from aisys.catalog import REPO_DIR

    if not (REPO_DIR / "solutions").is_dir():
        raise UserError(f"{what}: this edition has no reference answers (it is the student edition)")


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
