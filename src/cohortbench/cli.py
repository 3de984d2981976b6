"""The ``cohortbench`` command line: a thin Typer layer over :mod:`cohortbench.api`.

Exit codes: 0 success; 2 bad input (study file, data, arguments: one line on
stderr, no traceback); 1 an unexpected failure, a study that finished with
failed evaluations, or a report that could not be built after a run (the
results are then complete in the store and ``export`` works); 130 interrupted
(run the same command again to resume).

Typer may bring its own copy of click, so this module never imports click: a
usage error of the command-line framework is recognised by what it carries
(an ``exit_code`` and a ``format_message()``), not by its class.
"""

from __future__ import annotations

import functools
import sys
import warnings
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from . import api
from .errors import CohortbenchError, StudyError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Benchmark ML pipelines on small multimodal cohorts, honestly and fast.")
out_console = Console(highlight=False, soft_wrap=True)

_said: set[str] = set()


class _Interrupted(Exception):
    """Ctrl-C inside a command (Typer would turn KeyboardInterrupt into a silent 130)."""


def _interruptible(command):
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            raise _Interrupted() from None
    return wrapper


def _command(*args, **kwargs):
    """``app.command`` for a function that Ctrl-C interrupts with a message."""
    def register(function):
        return app.command(*args, **kwargs)(_interruptible(function))
    return register


def _say(text: str) -> None:
    _said.add(text)
    out_console.print(text, markup=False)


def _positive_jobs(jobs: Optional[int]) -> Optional[int]:
    if jobs is not None and jobs < 1:
        raise StudyError(f"--jobs must be a number of worker processes, 1 or more (got {jobs}); "
                         "leave it out to use every core.")
    return jobs


def _check_engine(engine: str) -> None:
    if engine not in ("reference", "fast"):
        raise StudyError(f"--engine must be 'fast' or 'reference', not '{engine}'")


def _finish(outcome, run_dir: Path, quiet: bool) -> None:
    if quiet:
        for note in outcome.notes:
            _say(note)
    parts = [f"{outcome.computed} computed"]
    if outcome.already:
        parts.append(f"{outcome.already} already done by an earlier run (resumed)")
    parts += [f"{outcome.reused} reused", f"{outcome.failed} failed"]
    _say(f"{outcome.total} evaluations: {', '.join(parts)}")
    for w in outcome.warnings:
        _say(f"warning: {w}")
    _say(f"results: {run_dir / 'results.sqlite'}")
    if outcome.report_error:
        print(f"error: the report could not be built ({outcome.report_error}); the results are "
              f"complete in {run_dir / 'results.sqlite'} and `cohortbench export {run_dir}` "
              f"works; details in {run_dir / 'report-error.txt'} (please report it)",
              file=sys.stderr)
        raise typer.Exit(1)
    if (run_dir / "report.html").exists():
        _say(f"report:  {run_dir / 'report.html'}")
    if outcome.failed:
        _say(f"the study finished with {outcome.failed} failed evaluation(s); see `cohortbench status {run_dir}`")
        raise typer.Exit(1)


def _version(value: bool) -> None:
    if value:
        _say(f"cohortbench {api.package_version()}")
        raise typer.Exit(0)


@app.callback()
def _main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
):
    """Benchmark ML pipelines on small multimodal cohorts, honestly and fast."""


@_command()
def init(directory: Path = typer.Argument(..., help="A new or empty directory.")):
    """Write the synthetic cohort and an example study.yaml, as a template for your data."""
    study = api.init(directory)
    _say(f"wrote the synthetic cohort and {study}")
    _say(f"next: cohortbench validate {study}")


@_command()
def validate(study: Path = typer.Argument(..., help="The study file (YAML)."),
             jobs: Optional[int] = typer.Option(None, "--jobs", help="Estimate the time for this many worker processes (default: all cores)."),
             engine: str = typer.Option("fast", "--engine", help="Estimate the time for this engine: fast (the default) | reference"),
             estimate: bool = typer.Option(True, "--estimate/--no-estimate", help="Time a few fits of the study's data to estimate how long each stage takes (default: yes).")):
    """Check a study file and its data; print a cohort summary and how long the study will take."""
    _check_engine(engine)
    _loaded, summary = api.validate(study, jobs=_positive_jobs(jobs), engine=engine,
                                    estimate=estimate)
    for line in api.summary_lines(summary):
        _say(line)
    _say("ok: the study is ready to run")


@_command()
def run(
    study: Path = typer.Argument(..., help="The study file (YAML)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default: ./<study name>-run)."),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="Local worker processes (default: all cores)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of a Dask scheduler."),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="'slurm': start workers with dask-jobqueue."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress display."),
    engine: str = typer.Option("fast", "--engine", help="fast (exact, shares work across configurations; the default) | reference (plain scikit-learn, the oracle)"),
    replace: bool = typer.Option(False, "--replace", help="Move results already in --out aside (into OUT/replaced/) and start afresh."),
):
    """Run (or resume) a study."""
    _check_engine(engine)
    jobs = _positive_jobs(jobs)
    loaded = api.load_study(study)
    run_dir = out or api.default_out(loaded)
    outcome = api.run(study, run_dir, jobs=jobs, scheduler=scheduler, cluster=cluster, quiet=quiet,
                      engine=engine, replace=replace)
    _finish(outcome, Path(run_dir), quiet)


@_command()
def status(run_dir: Path = typer.Argument(..., help="A run directory.")):
    """Per stage: evaluations done / planned, and failures; whether the run is complete."""
    state = api.status(run_dir)
    t = Table("stage", "done", "planned", "failed")
    for r in state.stages.itertuples():
        planned = "not yet" if r.planned is None or r.planned != r.planned else str(int(r.planned))
        t.add_row(str(r.stage), str(r.done), planned, str(r.failed))
    out_console.print(t)
    fails = api.failures(run_dir)
    for r in fails.itertuples():
        _say(f"failed: {r.evaluation_key} ({getattr(r, 'stage', '')}): {r.error}")
    if state.outside_study:
        _say(f"{state.outside_study} evaluation(s) in the store belong to stages the study no "
             "longer has (or had before an edit); they are kept but not reported")
    _say("the run is complete" if state.complete else
         "the run is not complete: run the same `cohortbench run` again to resume it")


@_command()
def export(run_dir: Path = typer.Argument(..., help="A run directory."),
           out: Optional[Path] = typer.Option(None, "--out", help="Where to write the CSV files.")):
    """Write evaluations.csv, predictions.csv, nulls.csv and step_tests.csv."""
    paths = api.export(run_dir, out)
    for name, path in paths.items():
        _say(f"{name}: {path}")


@_command()
def report(run_dir: Path = typer.Argument(..., help="A run directory.")):
    """(Re)build RUN_DIR/report.html."""
    _say(f"report: {api.report(run_dir)}")


@_command()
def demo(
    out: Path = typer.Option(Path("cohortbench-demo"), "--out", help="Where to write the cohort and the run."),
    quick: bool = typer.Option(False, "--quick", help="A reduced study for a first look (about a minute; illustrative numbers)."),
    full: bool = typer.Option(False, "--full", help="The published study, unreduced (~5 h on 2 cores; resumable)."),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="Local worker processes (default: all cores)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress display."),
    engine: str = typer.Option("fast", "--engine", help="fast (exact, shares work; the default) | reference (plain scikit-learn)"),
):
    """Write the built-in synthetic cohort and run the default study on it."""
    _check_engine(engine)
    jobs = _positive_jobs(jobs)
    if full and not quick:
        _say("running the full published study: about 5 hours on a 2-core laptop for this cohort "
             "(benchmarks/RESULTS.md); interrupt at any time and run the same command again to resume")
    outcome, notes = api.demo(out, quick=quick, full=full, jobs=jobs, quiet=quiet, engine=engine)
    if notes:
        _say("this demo differs from the published study in:")
        for n in notes:
            _say(f"  - {n}")
    _finish(outcome, out / "run", quiet)


@_command()
def compare(run_dir: Path = typer.Argument(..., help="A run directory."),
            id_a: str = typer.Argument(..., help="Evaluation id A (or a unique prefix)."),
            id_b: str = typer.Argument(..., help="Evaluation id B (or a unique prefix).")):
    """Paired comparison (exact McNemar) of two evaluations on the same subjects and folds."""
    def interval_text(i) -> str:
        return f"{i.estimate:.3f} ({100 * i.confidence:g} % interval {i.low:.3f}-{i.high:.3f})"

    result = api.compare(run_dir, id_a, id_b)
    if not result.comparable:
        raise CohortbenchError(f"cannot compare: {result.reason}")
    for name, evaluation_id, description, intervals in (
            ("A", result.id_a, result.description_a, result.intervals_a),
            ("B", result.id_b, result.description_b, result.intervals_b)):
        _say(f"{name}: {evaluation_id}  {description}")
        _say(f"   accuracy {interval_text(intervals.accuracy)}, "
             f"balanced accuracy {interval_text(intervals.balanced_accuracy)}")
    _say(f"subjects: {result.n_subjects} (same task, subjects and folds)")
    _say(f"A right, B wrong: {result.b}")
    _say(f"A wrong, B right: {result.c}")
    _say(f"exact McNemar p = {result.p_value:.6g}")
    _say(result.sentence)
    _say("intervals and p treat subjects as independent, which cross-validated predictions are "
         "not: read them as a lower bound on the uncertainty (docs/interpreting.md)")


@_command()
def extract(
    spec: Path = typer.Argument(..., help="The extraction file (YAML; see docs/extract.md)."),
    out: Path = typer.Option(..., "--out", help="Folder for the tables, qc.tsv and study.yaml."),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="Local worker processes (default: all cores)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress display."),
):
    """Region tables from NIfTI/MGZ maps and label images (resumes in the same --out)."""
    outcome = api.extract(spec, out, jobs=_positive_jobs(jobs), quiet=quiet)
    _say(f"{len(outcome.tables)} map table(s) in {outcome.out / 'maps'}; (subject, map) pairs: "
         f"{outcome.computed} computed, {outcome.reused} reused")
    for w in outcome.warnings:
        _say(f"warning: {w}")
    _say(f"qc:    {outcome.qc}")
    _say(f"study: {outcome.study}")
    _say(f"next: edit the tasks in {outcome.study}, then cohortbench validate {outcome.study}")


def _framework_error(exc: BaseException) -> str | None:
    """The one-line message of a command-line usage error, or None for anything else."""
    code = getattr(exc, "exit_code", None)
    formatter = getattr(exc, "format_message", None)
    if not isinstance(code, int) or not callable(formatter):
        return None
    message = " ".join(str(formatter()).split()).rstrip(".")
    message = message[:1].lower() + message[1:]
    context = getattr(exc, "ctx", None)
    path = getattr(context, "command_path", None) or "cohortbench"
    return f"error: {message} (see `{path} --help`)"


def _show_help() -> None:
    app(args=["--help"], standalone_mode=False)


def main(argv=None) -> None:
    """Entry point: user errors become one line and exit code 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            try:
                if not args:  # a bare `cohortbench`: the list of commands
                    _show_help()
                    rc = 0
                else:
                    rc = app(args=args, standalone_mode=False)
            finally:
                # library warnings about the user's data become plain lines, not stack-ish stderr
                shown = set()
                for w in caught:
                    line = f"warning: {w.message}"
                    if issubclass(w.category, UserWarning) and line not in shown | _said:
                        shown.add(line)
                        print(line)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except CohortbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except (KeyboardInterrupt, _Interrupted):
        print("interrupted; run the same command again to resume", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - a bug, or a usage error of the CLI framework
        message = _framework_error(exc)
        if message is not None:
            print(message, file=sys.stderr)
            sys.exit(2)
        import traceback

        traceback.print_exc()
        print(f"cohortbench: unexpected error ({type(exc).__name__}); please report it", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
