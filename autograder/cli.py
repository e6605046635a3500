"""``nngrade``: the instructor's command line.

::

    nngrade author    [ASSIGNMENT…]            solutions/*.ipynb from their sources solutions/*.md
    nngrade release   [ASSIGNMENT…]            student notebooks from solutions/ (nbgrader)
    nngrade validate  [ASSIGNMENT…]            every reference solution earns full marks
    nngrade grade     ROOT -a A3               grade a class (sandboxed, parallel, resumable;
                                               --student S, --question q2 regrade selectively)
    nngrade feedback  ROOT -a A3               one HTML page per student
    nngrade export    ROOT [-a A3] -f csv      nbgrader's CSV, or Gradescope results.json
    nngrade stats     ROOT -a A3               per-question means, mistakes, histogram (+ PNG)
    nngrade report    ROOT -a A3               class report: item analysis, mining, copy signals
    nngrade lms       ROOT --to canvas --roster R   Canvas / Moodle grade-import CSV
    nngrade gradescope -a A3                   a Gradescope autograder zip
    nngrade serve     [--tokens FILE]          the check service (instant feedback, no key on
                                               the student's machine)
    nngrade tokens    ROSTER                   per-student tokens for a standalone service
    nngrade demo                               grade the example class end to end
    nngrade audit     [ASSIGNMENT…]            check the grading itself (mistakes named, variants sound)

``ROOT`` is an nbgrader course directory (``submitted/<student>/<A>/…``) or
a folder of ``<student>.ipynb`` files. Results are kept in
``ROOT/nngrade/results`` (one JSON per student, written atomically), the
gradebook at ``course.yaml``'s ``gradebook_url`` (relative SQLite paths are
taken inside ROOT) or ``--gradebook URL``. Messages follow ``course.yaml``'s
language.  ``course.yaml`` is ``--course``, else the nearest one in ROOT or
its parents, else in the current folder or its parents.

Exit status: 0 done; 1 an error stopped the run (named: course.yaml,
gradebook, folder, a run that could grade nothing); 2 bad usage; 3
``grade`` finished but the grader failed on some submissions (see README).
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


def _load(course_opt: str | None, root: Path | None = None):
    """The course: ``--course``, else the nearest ``course.yaml`` in ROOT or
    a parent of it (the course directory being graded), else in the
    current folder or a parent."""
    from .config import ConfigError, find_course_file, load_course
    try:
        if course_opt:
            return load_course(course_opt), Path(course_opt).resolve()
        try:
            path = find_course_file(*([root] if root is not None else []), Path.cwd())
        except FileNotFoundError:
            path = None
        if path is not None:
            return load_course(path), path
    except ConfigError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error(None, exc, course_opt))
    _fail(msg("找不到 course.yaml；请用 --course 指定。",
              "course.yaml not found here or in a parent folder; give it with --course.").render("zh+en"))


def _assignment(course, aid: str) -> str:
    """``aid``, checked: in ``course.yaml``, whose questions and parts match
    the question definitions (:func:`autograder.config.check_questions`)."""
    from .config import ConfigError, check_questions
    if aid not in course.assignments:
        _fail(_say(course, f"course.yaml 中没有作业 {aid}（有：{', '.join(course.assignments)}）。",
                   f"no assignment {aid} in course.yaml (there are: {', '.join(course.assignments)})."))
    try:
        check_questions(course, [aid])
    except ConfigError as exc:
        _fail(str(exc))
    return aid


#: strerror in Chinese for the errors a course folder gives
_ERRNO_ZH = {1: "不允许的操作", 2: "文件或目录不存在", 13: "权限不够", 17: "文件已存在",
             20: "不是目录", 21: "是一个目录", 28: "磁盘空间不足", 30: "只读文件系统",
             122: "超出磁盘配额"}


def _os_error(course, exc: OSError, what=None) -> str:
    """An ``OSError`` as a bilingual message without Python's ``[Errno N]``
    (the system's reason in Chinese too, for the common ones)."""
    import re
    en = re.sub(r"\[Errno \d+\] ", "", str(exc))
    if exc.filename is not None and str(exc.filename) not in en:
        en = f"{exc.filename}: {en}"
    elif what and str(what) not in en:
        en = f"{what}: {en}"
    reason = _ERRNO_ZH.get(exc.errno)
    if reason is None:
        for code, text in ((13, "Permission denied"), (30, "Read-only file system"),
                           (1, "Operation not permitted"), (2, "No such file or directory"),
                           (28, "No space left on device")):
            if text in en:
                reason, exc_text = _ERRNO_ZH[code], text
                break
    else:
        exc_text = exc.strerror or ""
    if reason is None or not exc_text or exc_text not in en:
        return en
    zh = "文件操作失败：" + en.replace(exc_text, reason)
    return _say(course, zh, en)


def _gradebook_url(course, root: Path, override: str | None) -> str:
    url = override or course.gradebook_url
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url[len(prefix):].startswith("/"):
        return prefix + str((root / url[len(prefix):]).resolve())
    return url


def _store(root: Path):
    from .submissions import ResultStore
    return ResultStore(root / "nngrade" / "results")


def _results(course, root: Path, aid: str | None, source: dict | None = None):
    """The results the reporting verbs use: from the gradebook, with the
    grades and comments entered in formgrader applied; the local JSON cache
    only when there is no gradebook (said on stderr) — see
    :mod:`autograder.class_results`.  ``source``: the verb's ``--gradebook``
    / ``--no-gradebook`` options."""
    from .class_results import load_class_results
    source = source or {}
    aids = [aid] if aid else list(course.assignments)
    url = None if source.get("no_gradebook") else \
        _gradebook_url(course, root, source.get("gradebook_opt"))
    try:
        loaded = load_class_results(course, _store(root), aids, url)
    except Exception as exc:
        gradebook = sys.modules.get("autograder.gradebook")
        if gradebook is not None and isinstance(exc, gradebook.GradebookError):
            _fail(str(exc))
        raise
    for note in loaded.notes:
        click.echo(_say(course, note.zh, note.en), err=True)
    if not loaded.results:
        where = url if url is not None and loaded.source != "cache" else root
        _fail(_say(course, f"{where} 中还没有评分结果；先运行 nngrade grade。",
                   f"no grading results in {where} yet; run nngrade grade first."))
    return loaded.results


def _source_options(verb):
    """``--gradebook URL`` / ``--no-gradebook`` for a verb that reads results."""
    verb = click.option("--no-gradebook", is_flag=True,
                        help="read the local JSON results only (no manual grades)")(verb)
    return click.option("--gradebook", "gradebook_opt",
                        help="SQLAlchemy URL to read the results from "
                             "[course.yaml gradebook_url]")(verb)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nn-backprop-grader")
def main():
    """nngrade — release, grade and report the neural-network course's notebooks.

    每个子命令都有 --help。 Every verb has --help.
    """


@main.command()
@click.argument("assignments", nargs=-1)
@click.option("--course", "course_opt", help=COURSE_HELP)
@click.option("--check", is_flag=True, help="write nothing; exit 1 if a notebook differs from its source")
def author(assignments, course_opt, check):
    """Generate the source notebooks solutions/*.ipynb from solutions/*.md."""
    from .nbsource import SourceError, source_path, write
    course, path = _load(course_opt)
    aids = [_assignment(course, a) for a in assignments]
    for aid in aids:
        if not source_path(course, path, aid).is_file():
            _fail(_short(course, f"{aid}：缺少源文件 {source_path(course, path, aid)}",
                         f"{aid}: no source file {source_path(course, path, aid)}"))
    try:
        done = write(course, path, aids, check=check)
    except SourceError as exc:
        _fail(str(exc))
    stale = [aid for aid, (_, changed) in done.items() if changed]
    for aid, (nb, changed) in done.items():
        if not changed:
            state = _short(course, "未变", "unchanged")
        else:
            state = _short(course, "与源文件不一致", "differs from its source") if check \
                else _short(course, "已更新", "updated")
        click.echo(f"{aid} {nb} — {state}")
    if check and stale:
        _fail(_short(course, "请运行 nngrade author " + " ".join(stale),
                     "run nngrade author " + " ".join(stale)))


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
    from .grading import grade_one
    course, path = _load(course_opt)
    sol = Path(solutions or path.parent / "solutions")
    aids = [_assignment(course, a) for a in assignments or course.assignments]
    bad = 0
    for aid in aids:
        nb = sol / course.assignment(aid).notebook
        if not nb.is_file():
            click.echo(_say(course, f"✗ {aid}: 缺少 {nb}", f"✗ {aid}: {nb} is missing"))
            bad += 1
            continue
        for student in students:
            r = grade_one(course, aid, nb, None if student == "lecture" else student)
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
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="worker processes, at least 1 [one per core]")
@click.option("--force", is_flag=True, help="regrade submissions already graded")
@click.option("--student", "students", multiple=True,
              help="grade only this student (again, even if graded); repeatable")
@click.option("--question", "questions", multiple=True,
              help="regrade only this question (q2 or A3.q2) in the stored results; repeatable")
@click.option("--scheduler", help="dask.distributed scheduler address (grade on a cluster)")
@click.option("--gradebook", "gradebook_opt", help="SQLAlchemy URL [course.yaml gradebook_url]")
@click.option("--no-gradebook", is_flag=True, help="keep results as JSON only")
@click.option("--source", type=click.Path(exists=True, dir_okay=False),
              help="released notebook whose locked cells are restored [exercises/ beside course.yaml]")
def grade(root, assignment, course_opt, workers, force, students, questions, scheduler,
          gradebook_opt, no_gradebook, source):
    """Grade every submission of ASSIGNMENT under ROOT.

    \b
    A submission is graded again when it changed since its result (a newer
    timestamp.txt or new content).  Ends with what needs your eye and the
    class table.  Exit status: 0 graded; 1 an error stopped the run (nothing
    is half-recorded); 2 bad usage; 3 finished, but the grader itself failed
    on some submissions (listed; a re-run retries them).
    """
    course, path = _load(course_opt, root)
    aid = _assignment(course, assignment)
    qids = [_question(course, aid, q) for q in questions]
    run = _grade(course, path, root, aid, workers=workers, force=force or bool(questions),
                 scheduler=scheduler, students=students, questions=qids,
                 gradebook_url=None if no_gradebook else _gradebook_url(course, root, gradebook_opt),
                 source=source)
    if run.failed:
        raise SystemExit(EXIT_GRADER_FAILED)


#: exit status of a run that finished but could not grade some submissions
EXIT_GRADER_FAILED = 3


def _question(course, aid: str, qid: str) -> str:
    full = qid if "." in qid else f"{aid}.{qid}"
    if full not in course.question_ids(aid):
        _fail(_say(course, f"{aid} 没有题目 {qid}（有：{', '.join(course.question_ids(aid))}）。",
                   f"{aid} has no question {qid} (it has: {', '.join(course.question_ids(aid))})."))
    return full


def _grade(course, course_path: Path, root: Path, aid: str, *, workers=None, force=False,
           scheduler=None, gradebook_url=None, source=None, quiet=False, students=(),
           questions=()):
    from tqdm import tqdm

    from .pipeline import RunFailed, grade_class
    from .reports.closing import attention, attention_table, class_table
    from .submissions import discover
    name = course.assignment(aid).notebook
    try:
        subs, problems = discover(root, aid, name)
    except FileNotFoundError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error(course, exc))
    for p in problems:
        click.echo(_say(course, f"注意：{p.path}：{p.reason}", f"note: {p.path}: {p.reason}"), err=True)
    if students:
        unknown = sorted(set(students) - {s.student for s in subs})
        if unknown:
            _fail(_say(course, f"{root} 中没有这些学生的 {aid} 提交：{', '.join(unknown)}。",
                       f"no submission of {aid} under {root} from: {', '.join(unknown)}."))
        subs = [s for s in subs if s.student in set(students)]
        force = True                    # named students are graded again
    if not subs:
        _fail(_say(course, f"{root} 中没有 {aid} 的提交。", f"no submissions of {aid} under {root}."))
    source = source or (course_path.parent / "exercises" / name)
    tqdm.monitor_interval = 0        # no monitor thread: the grading pool forks from here
    bar = tqdm(total=len(subs), desc=f"{aid}", unit="nb", disable=quiet, file=sys.stderr)
    doing = _short(course, "评分中", "grading")

    def progress(done, total, student):
        bar.total = total
        bar.update(1)

    def running(students_now):
        # what is being graded now (not the last one finished: a long run
        # must not look finished)
        shown = ", ".join(students_now[:3]) + (" …" if len(students_now) > 3 else "")
        bar.set_postfix_str(f"{doing} {len(students_now)}: {shown}" if students_now else "")
    store = _store(root)
    try:
        run = grade_class(course, course_path, aid, subs, store, gradebook_url=gradebook_url,
                          source_notebook=source if Path(source).is_file() else None,
                          workers=workers, force=force, scheduler=scheduler, progress=progress,
                          running=running, questions=list(questions) or None,
                          # formgrader's autograded/<student>/<A>/ (nbgrader's layout only)
                          autograded_root=root if gradebook_url is not None
                          and (root / "submitted").is_dir() else None)
    except RunFailed as exc:
        bar.close()
        _fail(_say(course, f"评分失败，没有记录任何成绩：{exc}", f"grading failed, no grade was "
                                                              f"recorded: {exc}"))
    except OSError as exc:
        bar.close()
        _fail(_os_error(course, exc))
    except Exception as exc:
        bar.close()
        # (not imported up front: SQLAlchemy's import would delay the start)
        gradebook = sys.modules.get("autograder.gradebook")
        if gradebook is not None and isinstance(exc, gradebook.GradebookError):
            _fail(str(exc))
        raise
    bar.close()
    for student, why in run.unreadable:
        click.echo(_say(course, f"注意：{student} 已存的结果无法读取（{why}），已重新评分。",
                        f"note: the stored result of {student} could not be read ({why}); "
                        f"graded again."), err=True)
    for note in run.notes:
        click.echo(_say(course, "注意：" + note.zh, "note: " + note.en), err=True)
    if quiet:
        return run
    wanted = {s.student for s in subs}
    try:
        # the class table as the other verbs will show it: manual grades applied
        from .class_results import load_class_results
        results = [r for r in load_class_results(course, store, [aid], gradebook_url).results
                   if r.student in wanted]
    except Exception as exc:  # noqa: BLE001 — the grades are kept; only the report is lost
        _fail(_say(course, f"评分已完成，但无法读取已存的结果来生成报告：{exc}",
                   f"grading finished, but the stored results could not be read for the "
                   f"report: {exc}"))
    rows = attention(course, results, resubmitted=run.resubmitted, errors=run.errors,
                     skipped=problems)
    lost = {kind: len({s for s, k, _ in rows if k == kind}) for kind in ("timeout", "crash", "unreadable")}
    click.echo(_say(course,
                    f"已评分 {len(run.graded)} 份，跳过（已评过）{len(run.skipped)} 份，"
                    f"评分程序出错 {len(run.failed)} 份；重新提交 {len(run.resubmitted)} 份，"
                    f"超时 {lost['timeout']} 份，崩溃/出错 {lost['crash']} 份，"
                    f"无法读取 {lost['unreadable']} 份；用时 {run.seconds:.1f} 秒。",
                    f"graded {len(run.graded)}, skipped {len(run.skipped)} (already graded), "
                    f"grader errors {len(run.failed)}; resubmitted {len(run.resubmitted)}, "
                    f"with timeouts {lost['timeout']}, with crashes {lost['crash']}, "
                    f"unreadable {lost['unreadable']}; {run.seconds:.1f} s."))
    table = attention_table(course, rows)
    if table:
        click.echo(table)
    click.echo(class_table(course, results))
    if run.failed:
        click.echo(_say(course, f"评分程序未能评分 {len(run.failed)} 份提交（见上）；再次运行会重试。",
                        f"the grader could not grade {len(run.failed)} submission(s) (see above); "
                        f"running again retries them."), err=True)
    return run


@main.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-a", "--assignment", default=None, help="assignment id [all]")
@click.option("--course", "course_opt", help=COURSE_HELP)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="[ROOT/feedback]")
@click.option("--language", type=click.Choice(["zh", "en", "zh+en"]), help="[course.yaml]")
@_source_options
def feedback(root, assignment, course_opt, out, language, gradebook_opt, no_gradebook):
    """Write one self-contained HTML feedback page per student."""
    from .reports.feedback import write_feedback
    from .reports.files import ReportError
    course, _ = _load(course_opt, root)
    aid = _assignment(course, assignment) if assignment else None
    try:
        for r in _results(course, root, aid, dict(gradebook_opt=gradebook_opt,
                                                  no_gradebook=no_gradebook)):
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
@_source_options
def export(root, assignment, fmt, course_opt, out, gradebook_opt, no_gradebook):
    """Export grades: nbgrader's CSV columns, or Gradescope results.json files."""
    from .reports.export import write_csv, write_gradescope
    from .reports.files import ReportError
    course, _ = _load(course_opt, root)
    aid = _assignment(course, assignment) if assignment else None
    results = _results(course, root, aid, dict(gradebook_opt=gradebook_opt,
                                                no_gradebook=no_gradebook))
    written = []
    try:
        if fmt == "csv":
            written.append(write_csv(results, out or root / "grades.csv", course))
        else:
            base = out or root / "gradescope"
            for r in results:
                target = base / r.student / r.assignment / "results.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                written.append(write_gradescope(r, target, course))
    except ReportError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error(course, exc))
    _echo_lines(written)          # every file is written before anything is printed


def _echo_lines(lines) -> None:
    """Print ``lines``; a reader that goes away (``nngrade export | head -1``)
    ends the printing quietly, not with a "Broken pipe" traceback."""
    try:
        for line in lines:
            click.echo(line)
        sys.stdout.flush()
    except BrokenPipeError:
        # nothing more can be shown; stop Python's flush at exit from failing too
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


@main.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-a", "--assignment", default=None, help="assignment id [all]")
@click.option("--course", "course_opt", help=COURSE_HELP)
@click.option("--plots", type=click.Path(file_okay=False, path_type=Path), help="PNG folder [ROOT/stats]")
@_source_options
def stats(root, assignment, course_opt, plots, gradebook_opt, no_gradebook):
    """Per-question mean scores, the share of each named mistake, a histogram."""
    from .reports.files import ReportError
    from .reports.stats import stats_plots, stats_table
    course, _ = _load(course_opt, root)
    aid = _assignment(course, assignment) if assignment else None
    results = _results(course, root, aid, dict(gradebook_opt=gradebook_opt,
                                                no_gradebook=no_gradebook))
    click.echo(stats_table(results, course.language))
    try:
        for p in stats_plots(results, plots or root / "stats", course.language):
            click.echo(p)
    except ReportError as exc:
        _fail(str(exc))


@main.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--to", "lms", type=click.Choice(["canvas", "moodle"]), required=True,
              help="the LMS whose grade-import CSV to write")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="CSV: student_id plus the LMS's ids (see docs)")
@click.option("-a", "--assignment", "assignments", multiple=True, help="assignment id [all graded]")
@click.option("--canvas-id", "canvas_ids", multiple=True, metavar="A=ID",
              help="Canvas assignment id of an assignment (e.g. A3=12345), repeatable")
@click.option("--course", "course_opt", help=COURSE_HELP)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="[ROOT/<lms>_grades.csv]")
@_source_options
def lms(root, lms, roster, assignments, canvas_ids, course_opt, out, gradebook_opt, no_gradebook):
    """Grades as a Canvas or Moodle grade-import CSV, matched through a roster."""
    from .reports.export import csv_rows
    from .reports.files import ReportError
    from .reports.lms import lms_table, read_roster, write_lms
    course, _ = _load(course_opt, root)
    aids = [_assignment(course, a) for a in assignments] or list(course.assignments)
    ids = {}
    for item in canvas_ids:
        aid, sep, cid = item.partition("=")
        if not sep or not cid.strip():
            _fail(f"--canvas-id {item!r}: expected A=ID, e.g. A3=12345")
        ids[_assignment(course, aid.strip())] = cid.strip()
    results = [r for r in _results(course, root, None, dict(gradebook_opt=gradebook_opt,
                                                            no_gradebook=no_gradebook))
               if r.assignment in aids]
    graded = [a for a in aids if any(r.assignment == a for r in results)]
    titles = {a: course.assignment(a).title.render(course.language).replace("\n", " / ")
              for a in graded}
    try:
        table = lms_table(lms, csv_rows(results, course), read_roster(roster), titles,
                          {a: course.max_score(a) for a in graded}, ids)
        click.echo(write_lms(out or root / f"{lms}_grades.csv", table))
    except ReportError as exc:
        _fail(str(exc))
    if table.missing:
        click.echo(_say(course, f"{len(table.missing)} 名学生缺少成绩（单元格留空）：",
                        f"{len(table.missing)} students lack a grade (cells left empty): ")
                   + ", ".join(table.missing), err=True)


@main.command()
@click.option("-a", "--assignment", required=True, help="assignment id, e.g. A3")
@click.option("--course", "course_opt", help=COURSE_HELP)
@click.option("--released", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="the student notebook [exercises/<notebook>]")
@click.option("--id-field", type=click.Choice(["sid", "email", "id", "name"]), default="sid",
              show_default=True, help="which Gradescope user field is the student id")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="[gradescope_<A>.zip]")
def gradescope(assignment, course_opt, released, id_field, out):
    """A Gradescope autograder zip (setup.sh, run_autograder) for one assignment."""
    from .gradescope import build_zip
    course, path = _load(course_opt)
    aid = _assignment(course, assignment)
    try:
        click.echo(build_zip(path, aid, out or Path(f"gradescope_{aid}.zip"),
                             released=released, id_field=id_field))
    except (OSError, ValueError) as exc:
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
        for r in results:
            write_feedback(r, root / "feedback", course)
        stats_plots(results, root / "stats", course.language)        # in root/stats, named below
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


# --------------------------------------------------------------------------
# nngrade report: the class report page (item analysis, mistake mining, copy signals)

@main.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-a", "--assignment", required=True, help="assignment id")
@click.option("--course", "course_opt", help=COURSE_HELP)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="[ROOT/reports]")
@click.option("--feedback-dir", type=click.Path(file_okay=False, path_type=Path),
              help="where the feedback pages are, for the links [ROOT/feedback]")
@click.option("--language", type=click.Choice(["zh", "en", "zh+en"]), help="[course.yaml]")
@_source_options
def report(root, assignment, course_opt, out, feedback_dir, language, gradebook_opt,
           no_gradebook):
    """One HTML class report: item analysis, shared uncatalogued mistakes, copy signals."""
    from .reports.class_report import write_class_report
    from .reports.files import ReportError
    course, _ = _load(course_opt, root)
    aid = _assignment(course, assignment)
    results = _results(course, root, aid, dict(gradebook_opt=gradebook_opt,
                                                no_gradebook=no_gradebook))
    try:
        click.echo(write_class_report(results, out or root / "reports", course,
                                      feedback_dir=feedback_dir or root / "feedback",
                                      language=language))
    except ReportError as exc:
        _fail(str(exc))

# the check service (autograder/service): nngrade serve, nngrade tokens

@main.command()
@click.option("--course", "course_opt", help=COURSE_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--tokens", "tokens_file", type=click.Path(exists=True, dir_okay=False),
              help="per-student tokens (JSON from `nngrade tokens`): standalone mode")
@click.option("--hub", is_flag=True, help="run as a JupyterHub service (students are hub users)")
@click.option("--per-minute", type=float, default=60.0, show_default=True,
              help="checks per minute per student")
@click.option("--max-body-kb", type=int, default=256, show_default=True, help="largest request")
@click.option("--fn-cpu", type=float, default=10.0, show_default=True,
              help="CPU seconds of one function check")
@click.option("--processes", type=click.IntRange(1, 256), default=None,
              help="server processes sharing the port and the per-student limits "
                   "[default: one per core]")
@click.option("--fn-nice", type=click.IntRange(0, 19), default=10, show_default=True,
              help="CPU priority (nice) of function checks: numeric and formula checks "
                   "keep the cores during a burst")
def serve(course_opt, host, port, tokens_file, hub, per_minute, max_body_kb, fn_cpu,
          processes, fn_nice):
    """Judge students' checks over HTTP, keeping the answers here."""
    from .service.limits import Limits
    from .service.server import serve as run_service
    course, _path = _load(course_opt)
    if hub == bool(tokens_file):
        _fail(_say(course, "请选择 --tokens FILE（独立运行）或 --hub（JupyterHub 服务）之一。",
                   "Choose one of --tokens FILE (standalone) or --hub (JupyterHub service)."))
    limits = Limits(per_minute=per_minute, max_body_kb=max_body_kb, fn_cpu_seconds=fn_cpu,
                    fn_wall_seconds=max(2 * fn_cpu, 5.0), fn_nice=fn_nice)
    try:
        run_service(course, host=host, port=port, tokens=tokens_file, hub=hub, limits=limits,
                    processes=processes)
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        pass


@main.command()
@click.argument("roster", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default="tokens.json",
              show_default=True, help="the token file `nngrade serve --tokens` reads")
def tokens(roster, out):
    """Make (or extend) per-student check tokens from ROSTER (one id a line,
    or a CSV with a student_id column)."""
    import csv
    import json
    from .service.auth import make_tokens
    text = roster.read_text(encoding="utf-8")
    first = text.splitlines()[0] if text.strip() else ""
    if "student_id" in [c.strip() for c in first.split(",")]:
        ids = [row["student_id"].strip() for row in csv.DictReader(text.splitlines())]
    else:
        ids = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    existing = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
    try:
        made = make_tokens([i for i in ids if i], existing)
    except ValueError as exc:
        _fail(f"{roster}: {exc}")
    out.write_text(json.dumps(made, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    out.chmod(0o600)
    click.echo(f"{out}: {len(made)} tokens ({len(made) - len(existing)} new) / "
               f"{len(made)} 个令牌（新增 {len(made) - len(existing)} 个）")


if __name__ == "__main__":
    run()
