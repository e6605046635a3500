"""``nngrade``: the instructor's command line.

::

    nngrade release   [ASSIGNMENT…]            student notebooks from solutions/ (nbgrader)
    nngrade validate  [ASSIGNMENT…]            every reference solution earns full marks
    nngrade grade     ROOT -a A3               grade a class (sandboxed, parallel, resumable)
    nngrade feedback  ROOT -a A3               one HTML page per student
    nngrade export    ROOT [-a A3] -f csv      nbgrader's CSV, or Gradescope results.json
    nngrade stats     ROOT -a A3               per-question means, mistakes, histogram (+ PNG)
    nngrade demo                               grade the example class end to end
    nngrade audit     [ASSIGNMENT…]            check the grading itself (mistakes named, variants sound)

``ROOT`` is an nbgrader course directory (``submitted/<student>/<A>/…``) or
a folder of ``<student>.ipynb`` files. Results are kept in
``ROOT/nngrade/results`` (one JSON per student, written atomically), the
gradebook at ``course.yaml``'s ``gradebook_url`` (relative SQLite paths are
taken inside ROOT) or ``--gradebook URL``. Messages follow ``course.yaml``'s
language.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import click

from .i18n import msg

COURSE_HELP = "course.yaml to use (default: the one in this folder or a parent)"


def _say(course, zh: str, en: str) -> str:
    return msg(zh, en).render(course.language if course is not None else "zh+en")


def _short(course, zh: str, en: str) -> str:
    """One line in the course language (``zh / en`` for a bilingual course)."""
    language = course.language if course is not None else "zh+en"
    return {"zh": zh, "en": en}.get(language, f"{zh} / {en}")


def _fail(text: str) -> None:
    raise click.ClickException(text)


def _load(course_opt: str | None):
    from .config import ConfigError, load_course
    try:
        if course_opt:
            return load_course(course_opt), Path(course_opt).resolve()
        here = Path.cwd().resolve()
        for folder in (here, *here.parents):
            if (folder / "course.yaml").is_file():
                return load_course(folder / "course.yaml"), folder / "course.yaml"
    except ConfigError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{course_opt}: {exc.strerror or exc}")
    _fail(msg("找不到 course.yaml；请用 --course 指定。",
              "course.yaml not found here or in a parent folder; give it with --course.").render("zh+en"))


def _assignment(course, aid: str) -> str:
    if aid not in course.assignments:
        _fail(_say(course, f"course.yaml 中没有作业 {aid}（有：{', '.join(course.assignments)}）。",
                   f"no assignment {aid} in course.yaml (there are: {', '.join(course.assignments)})."))
    return aid


def _gradebook_url(course, root: Path, override: str | None) -> str:
    url = override or course.gradebook_url
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url[len(prefix):].startswith("/"):
        return prefix + str((root / url[len(prefix):]).resolve())
    return url


def _store(root: Path):
    from .submissions import ResultStore
    return ResultStore(root / "nngrade" / "results")


def _results(course, root: Path, aid: str | None):
    store = _store(root)
    aids = [aid] if aid else list(course.assignments)
    out = [r for a in aids for r in store.all(a)]
    if not out:
        _fail(_say(course, f"{root} 中还没有评分结果；先运行 nngrade grade。",
                   f"no grading results under {root} yet; run nngrade grade first."))
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nn-backprop-grader")
def main():
    """nngrade — release, grade and report the neural-network course's notebooks.

    每个子命令都有 --help。 Every verb has --help.
    """


@main.command()
@click.argument("assignments", nargs=-1)
@click.option("--course", "course_opt", help=COURSE_HELP)
@click.option("--solutions", type=click.Path(file_okay=False), help="source notebooks [solutions/ beside course.yaml]")
@click.option("--out", type=click.Path(file_okay=False), help="where the student notebooks go [exercises/]")
@click.option("--language", type=click.Choice(["zh", "en", "zh+en"]), help="statement language [course.yaml]")
def release(assignments, course_opt, solutions, out, language):
    """Generate the student notebooks from the solutions with nbgrader."""
    from .release import NbgraderError, release as do_release
    course, path = _load(course_opt)
    aids = [_assignment(course, a) for a in assignments] or list(course.assignments)
    try:
        written = do_release(course, solutions or path.parent / "solutions",
                             out or path.parent / "exercises", aids, language)
    except (NbgraderError, FileNotFoundError) as exc:
        _fail(str(exc))
    for p in written:
        click.echo(p)


@main.command()
@click.argument("assignments", nargs=-1)
@click.option("--course", "course_opt", help=COURSE_HELP)
@click.option("--solutions", type=click.Path(file_okay=False), help="source notebooks [solutions/]")
@click.option("--student", "students", multiple=True, default=["lecture", "validate-student"],
              show_default=True, help="variants to check (a student id; 'lecture' = the lecture's numbers)")
def validate(assignments, course_opt, solutions, students):
    """Grade every reference solution in the sandbox: each must earn full marks."""
    from .sandbox import grade_notebook
    course, path = _load(course_opt)
    sol = Path(solutions or path.parent / "solutions")
    aids = [_assignment(course, a) for a in assignments] or list(course.assignments)
    bad = 0
    for aid in aids:
        nb = sol / course.assignment(aid).notebook
        if not nb.is_file():
            click.echo(_say(course, f"✗ {aid}: 缺少 {nb}", f"✗ {aid}: {nb} is missing"))
            bad += 1
            continue
        for student in students:
            r = grade_notebook(course, aid, nb, None if student == "lecture" else student)
            ok = r.score == r.max_score
            bad += not ok
            click.echo(f"{'✓' if ok else '✗'} {aid} [{student}] {r.score:g} / {r.max_score:g}")
            if not ok:
                for q in r.questions:
                    if q.score < q.max_score:
                        click.echo(f"    {q.label}: {q.status} — {q.feedback_text('en', ' ')[:200]}")
    if bad:
        raise SystemExit(1)


@main.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-a", "--assignment", required=True, help="assignment id, e.g. A3")
@click.option("--course", "course_opt", help=COURSE_HELP)
@click.option("--workers", type=int, default=None, help="worker processes [one per core]")
@click.option("--force", is_flag=True, help="regrade submissions already graded")
@click.option("--scheduler", help="dask.distributed scheduler address (grade on a cluster)")
@click.option("--gradebook", "gradebook_opt", help="SQLAlchemy URL [course.yaml gradebook_url]")
@click.option("--no-gradebook", is_flag=True, help="keep results as JSON only")
@click.option("--source", type=click.Path(exists=True, dir_okay=False),
              help="released notebook whose locked cells are restored [exercises/ beside course.yaml]")
def grade(root, assignment, course_opt, workers, force, scheduler, gradebook_opt, no_gradebook, source):
    """Grade every submission of ASSIGNMENT under ROOT."""
    course, path = _load(course_opt)
    _grade(course, path, root, _assignment(course, assignment), workers=workers, force=force,
           scheduler=scheduler, gradebook_url=None if no_gradebook else _gradebook_url(course, root, gradebook_opt),
           source=source)


def _grade(course, course_path: Path, root: Path, aid: str, *, workers=None, force=False,
           scheduler=None, gradebook_url=None, source=None, quiet=False):
    from tqdm import tqdm

    from .pipeline import grade_class
    from .submissions import discover
    name = course.assignment(aid).notebook
    try:
        subs, problems = discover(root, aid, name)
    except FileNotFoundError as exc:
        _fail(str(exc))
    for p in problems:
        click.echo(_say(course, f"注意：{p.path}：{p.reason}", f"note: {p.path}: {p.reason}"), err=True)
    if not subs:
        _fail(_say(course, f"{root} 中没有 {aid} 的提交。", f"no submissions of {aid} under {root}."))
    source = source or (course_path.parent / "exercises" / name)
    tqdm.monitor_interval = 0        # no monitor thread: the grading pool forks from here
    bar = tqdm(total=len(subs), desc=f"{aid}", unit="nb", disable=quiet, file=sys.stderr)

    def progress(done, total, student):
        bar.total = total
        bar.update(1)
        bar.set_postfix_str(student)
    try:
        run = grade_class(course, course_path, aid, subs, _store(root), gradebook_url=gradebook_url,
                          source_notebook=source if Path(source).is_file() else None,
                          workers=workers, force=force, scheduler=scheduler, progress=progress)
    except OSError as exc:
        _fail(str(exc))
    except Exception as exc:
        # (not imported up front: SQLAlchemy's import would delay the start)
        gradebook = sys.modules.get("autograder.gradebook")
        if gradebook is not None and isinstance(exc, gradebook.GradebookError):
            _fail(str(exc))
        raise
    finally:
        bar.close()
    for student, why in run.unreadable:
        click.echo(_say(course, f"注意：{student} 已存的结果无法读取（{why}），已重新评分。",
                        f"note: the stored result of {student} could not be read ({why}); "
                        f"graded again."), err=True)
    if not quiet:
        click.echo(_say(course,
                        f"已评分 {len(run.graded)} 份，跳过（已评过）{len(run.skipped)} 份，评分程序出错 {len(run.failed)} 份；"
                        f"用时 {run.seconds:.1f} 秒。",
                        f"graded {len(run.graded)}, skipped {len(run.skipped)} (already graded), "
                        f"grader errors {len(run.failed)}; {run.seconds:.1f} s."))
    return run


@main.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-a", "--assignment", default=None, help="assignment id [all]")
@click.option("--course", "course_opt", help=COURSE_HELP)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="[ROOT/feedback]")
@click.option("--language", type=click.Choice(["zh", "en", "zh+en"]), help="[course.yaml]")
def feedback(root, assignment, course_opt, out, language):
    """Write one self-contained HTML feedback page per student."""
    from .reports.feedback import ReportError, write_feedback
    course, _ = _load(course_opt)
    aid = _assignment(course, assignment) if assignment else None
    try:
        for r in _results(course, root, aid):
            click.echo(write_feedback(r, out or root / "feedback", course, language=language))
    except ReportError as exc:
        _fail(str(exc))


@main.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-a", "--assignment", default=None, help="assignment id [all]")
@click.option("-f", "--format", "fmt", type=click.Choice(["csv", "gradescope"]), default="csv", show_default=True)
@click.option("--course", "course_opt", help=COURSE_HELP)
@click.option("--out", type=click.Path(path_type=Path),
              help="CSV file [ROOT/grades.csv] or folder of <student>/<A>/results.json [ROOT/gradescope]")
def export(root, assignment, fmt, course_opt, out):
    """Export grades: nbgrader's CSV columns, or Gradescope results.json files."""
    from .reports.export import write_csv, write_gradescope
    from .reports.feedback import ReportError
    course, _ = _load(course_opt)
    aid = _assignment(course, assignment) if assignment else None
    results = _results(course, root, aid)
    try:
        if fmt == "csv":
            click.echo(write_csv(results, out or root / "grades.csv", course))
        else:
            base = out or root / "gradescope"
            for r in results:
                target = base / r.student / r.assignment / "results.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                click.echo(write_gradescope(r, target, course))
    except (ReportError, OSError) as exc:
        _fail(str(exc))


@main.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-a", "--assignment", default=None, help="assignment id [all]")
@click.option("--course", "course_opt", help=COURSE_HELP)
@click.option("--plots", type=click.Path(file_okay=False, path_type=Path), help="PNG folder [ROOT/stats]")
def stats(root, assignment, course_opt, plots):
    """Per-question mean scores, the share of each named mistake, a histogram."""
    from .reports.feedback import ReportError
    from .reports.stats import stats_plots, stats_table
    course, _ = _load(course_opt)
    aid = _assignment(course, assignment) if assignment else None
    results = _results(course, root, aid)
    click.echo(stats_table(results, course.language))
    try:
        for p in stats_plots(results, plots or root / "stats", course.language):
            click.echo(p)
    except ReportError as exc:
        _fail(str(exc))


@main.command()
@click.option("--course", "course_opt", help=COURSE_HELP)
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="where the demo course directory is made [a new temporary folder]")
@click.option("--workers", type=int, default=None, help="worker processes [one per core]")
def demo(course_opt, workdir, workers):
    """Grade the example class (examples/) into a fresh SQLite gradebook."""
    from .reports.feedback import write_feedback
    from .reports.stats import stats_plots
    course, path = _load(course_opt)
    examples = path.parent / "examples"
    if not examples.is_dir():
        _fail(_say(course, f"找不到示例提交 {examples}。", f"example submissions {examples} not found."))
    root = Path(workdir or tempfile.mkdtemp(prefix="nngrade-demo-")).resolve()
    path = _demo_course(path, root)
    course, _ = _load(str(path))
    for folder in sorted(p for p in examples.iterdir() if p.is_dir()):
        aid = folder.name
        if aid not in course.assignments:
            continue
        name = course.assignment(aid).notebook
        for nb in sorted(folder.glob("*.ipynb")):
            target = root / "submitted" / nb.stem / aid / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(nb, target)
        n = len(list(folder.glob("*.ipynb")))
        click.echo(_say(course, f"== {aid}：{n} 份示例提交（时间限制 {DEMO_LIMIT_S} 秒）==",
                        f"== {aid}: {n} example submissions (time limit {DEMO_LIMIT_S} s) =="))
        gradebook_url = f"sqlite:///{root / 'gradebook.db'}"
        _grade(course, path, root, aid, workers=workers, force=True, gradebook_url=gradebook_url)
        results = _store(root).all(aid)
        click.echo(_class_table(course, results))
        for r in results:
            write_feedback(r, root / "feedback", course)
        plots = stats_plots(results, root / "stats", course.language)
    click.echo(_say(course, f"\n课程目录：{root}\n成绩簿：{root / 'gradebook.db'}\n反馈页面：{root / 'feedback'}\n"
                            f"统计图：{root / 'stats'}",
                    f"\nCourse directory: {root}\nGradebook: {root / 'gradebook.db'}\n"
                    f"Feedback pages: {root / 'feedback'}\nPlots: {root / 'stats'}"))


DEMO_LIMIT_S = 10


def _demo_course(path: Path, root: Path) -> Path:
    """A copy of ``course.yaml`` in the demo folder with a short time limit
    (the example class has an infinite loop; nobody should wait a minute)."""
    import yaml
    root.mkdir(parents=True, exist_ok=True)
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["sandbox"]["cpu_seconds"] = data["sandbox"]["wall_seconds"] = DEMO_LIMIT_S
    target = root / "course.yaml"
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    for folder in ("exercises", "examples"):
        link = root / folder
        if not link.exists():
            link.symlink_to(path.parent / folder, target_is_directory=True)
    return target


def _class_table(course, results) -> str:
    """Student, total, and what happened: lost cells (timeout, crash),
    rejected answers, named mistakes, carried-forward credit."""
    lines = [_say(course, "学生          得分          说明", "student       score         notes")]
    for r in sorted(results, key=lambda r: r.student):
        sandbox = r.details.get("sandbox") if isinstance(r.details.get("sandbox"), dict) else {}
        notes = [f"{qid}: {e.get('status')} ({e.get('reason', '')[:60]})"
                 for qid, entries in (sandbox.get("lost") or {}).items() for e in entries[:1]]
        if sandbox.get("status") == "malformed" or r.details.get("status") == "grader_error":
            notes.append(str(sandbox.get("reason") or r.details.get("error", ""))[:60])
        invalid = sum(q.status == "invalid" for q in r.questions)
        if invalid:
            notes.append(_short(course, f"{invalid} 个答案被拒收", f"{invalid} answers rejected"))
        notes += sorted({q.diagnosis for q in r.questions if q.diagnosis})
        if any(q.carried_forward for q in r.questions):
            notes.append(_short(course, "误差传递给分", "carried forward"))
        lines.append(f"{r.student:<13} {r.score:>5g} / {r.max_score:<6g} {'; '.join(notes)}")
    return "\n".join(lines)


@main.command()
@click.argument("assignments", nargs=-1)
@click.option("--course", "course_opt", help=COURSE_HELP)
@click.option("--student", "students", multiple=True,
              help="student variants to sample besides the lecture's numbers "
                   "[audit-0001 … audit-0003]")
@click.option("--verbose", "-v", is_flag=True, help="print every check, not only the failures")
def audit(assignments, course_opt, students, verbose):
    """Check the grading itself: references, blanks and every catalogued
    mistake through the production judge, for the lecture's numbers and
    sample variants (exit status 1 when a check fails)."""
    from .audit import SAMPLE_STUDENTS, print_table, run_audit
    course, _path = _load(course_opt)
    aids = [_assignment(course, a) for a in assignments] or list(course.assignments)
    rows = run_audit(course, aids, tuple(students) or SAMPLE_STUDENTS)
    print_table(rows, verbose=verbose)
    if any(not r.ok for r in rows):
        sys.exit(1)


def run() -> None:
    """The ``nngrade`` command: :func:`main`, then a quick exit.  Once the
    command is done and the exit handlers have run (the sandbox's zygote
    stopped, worker pools joined, temporary folders removed, output
    flushed), tearing the interpreter down — SQLAlchemy, nbgrader and NumPy
    loaded — would take another 0.3–0.5 s for nothing."""
    import atexit
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code or 0)


if __name__ == "__main__":
    run()
