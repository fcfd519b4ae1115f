"""The instructor's commands: grade a class, build a Gradescope bundle, release the student
edition, regenerate the stubs. Registered on the `aisys` group; like the rest of the CLI they
import torch and the grader only when they run."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from aisys.catalog import find_labs
from aisys.cli import ISOLATION, _available, _console, _needs_solutions, cli
from aisys.errors import UserError


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
@click.option("--public-seed", is_flag=True, help="grade with the public seed 0 (students can reproduce it)")
@click.option("--formats", default="json,junit,gradescope,text", show_default=True,
              help="report formats to write for every student (comma-separated)")
@click.option("--jobs", type=click.IntRange(1, 64), default=2, show_default=True, help="students graded at once")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=300.0, show_default=True, help="seconds per lab")
@click.option("--force", is_flag=True, help="grade again students whose files and seed did not change")
@click.option("--isolation", type=ISOLATION, default="auto", show_default=True,
              help="namespaces (default when available), uid (root, no namespaces), none (see --no-isolation)")
@click.option("--no-isolation", is_flag=True, help="grade without kernel isolation (recorded in every report)")
def grade_class(submissions, names, output_dir, seed, seed_file, public_seed, formats, jobs, timeout, force,
                isolation, no_isolation) -> None:
    """Instructors: grade every student in SUBMISSIONS (a folder or .zip each; Gradescope,
    GitHub Classroom, Canvas and Moodle downloads work as they come) on LABS (default: all).

    Writes OUT/grades.csv, OUT/summary.html, OUT/students/<student>/ (feedback you can hand
    back) and OUT/staff/<student>/ (with the seed: keep it). LAB:EXERCISE regrades one
    exercise into OUT/partial/ without touching the full results."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    from aisys.grading.classroom import FILES, ClassRun, grade_class as run_class, output_dir as results_dir
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
    if seed is None and seed_file is None and not public_seed:
        raise UserError("give the secret seed (--seed-file FILE or --seed N), or --public-seed to grade with the "
                        "public seed 0 that students see")
    if public_seed and (seed is not None or seed_file is not None):
        raise UserError("give --public-seed or a seed, not both")
    labs, only = parse_targets(names)
    labs = [_available(item) for item in labs]
    seed_value, hidden = read_seed(None if seed is None else check_seed(seed), seed_file)
    chosen = choose("none" if no_isolation else isolation, untrusted=True)
    subs = find_submissions(submissions, skip=output_dir)
    out = results_dir(output_dir, only)
    run = ClassRun(labs=labs, only=only, out=output_dir, seed=seed_value, seed_hidden=hidden, isolation=chosen,
                   formats=wanted, timeout=timeout, force=force)
    err = _console(stderr=True)
    err.print(f"grading {len(subs)} submissions on {escape(', '.join(names) or 'every lab')} "
              f"(seed {'hidden' if hidden else seed_value}, isolation: {chosen.mode}, {jobs} at a time)")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task("students", total=len(subs))

        def step(sub, row, reused):
            total = f"{row.report.score:g}" if row.report is not None else "error"
            notes = row.report.notes if row.report is not None else sub.notes
            said = "".join(f"\n    note: {escape(note)}" for note in notes)
            progress.console.print(f"  {escape(sub.student)}: {total}{' (unchanged, reused)' if reused else ''}{said}")
            progress.advance(task)
        rows = run_class(subs, run, jobs=jobs, progress=step)
    write_report(out / "grades.csv", grades_csv(rows, labs, only))
    summary = summarize(rows, labs, only)
    write_report(out / "summary.html",
                 render_summary_html(summary, rows, f"aisys — {', '.join(names) or 'every lab'}"))
    _console().print(summary_view(summary))
    _console().print(f"wrote {out / 'grades.csv'}, {out / 'summary.html'}, feedback under {out / 'students'} "
                     f"and staff-only reports (with the seed) under {out / 'staff'}")


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
