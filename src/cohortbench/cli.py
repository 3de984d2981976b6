"""The ``cohortbench`` command line: a thin Typer layer over :mod:`cohortbench.api`.

Exit codes: 0 success; 2 bad input (one line on stderr, no traceback);
1 unexpected failure or a study that finished with failed evaluations.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from . import api
from .errors import CohortbenchError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Benchmark ML pipelines on small multimodal cohorts, honestly and fast.")
out_console = Console(highlight=False, soft_wrap=True)


_said: set[str] = set()


def _say(text: str) -> None:
    _said.add(text)
    out_console.print(text, markup=False)


def _finish(outcome, run_dir: Path) -> None:
    _say(f"{outcome.total} evaluations: {outcome.computed} computed, {outcome.reused} reused, "
         f"{outcome.failed} failed")
    for w in outcome.warnings:
        _say(f"warning: {w}")
    _say(f"results: {run_dir / 'results.sqlite'}")
    if (run_dir / "report.html").exists():
        _say(f"report:  {run_dir / 'report.html'}")
    if outcome.failed:
        _say(f"the study finished with {outcome.failed} failed evaluation(s); see `cohortbench status {run_dir}`")
        raise typer.Exit(1)


@app.command()
def init(directory: Path = typer.Argument(..., help="A new or empty directory.")):
    """Write the synthetic cohort and an example study.yaml, as a template for your data."""
    study = api.init(directory)
    _say(f"wrote the synthetic cohort and {study}")
    _say(f"next: cohortbench validate {study}")


@app.command()
def validate(study: Path = typer.Argument(..., help="The study file (YAML).")):
    """Check a study file and its data; print a cohort summary."""
    _loaded, summary = api.validate(study)
    for line in api.summary_lines(summary):
        _say(line)
    _say("ok: the study is ready to run")


@app.command()
def run(
    study: Path = typer.Argument(..., help="The study file (YAML)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default: ./<study name>-run)."),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="Local worker processes (default: all cores)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of a Dask scheduler."),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="'slurm': start workers with dask-jobqueue."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress display."),
    engine: str = typer.Option("reference", "--engine", help="reference (plain scikit-learn, the default) | fast (exact, shares work across configurations)"),
):
    """Run (or resume) a study."""
    if engine not in ("reference", "fast"):
        raise CohortbenchError(f"--engine must be 'reference' or 'fast', not '{engine}'")
    loaded = api.load_study(study)
    run_dir = out or api._default_out(loaded)
    outcome = api.run(study, run_dir, jobs=jobs, scheduler=scheduler, cluster=cluster, quiet=quiet, engine=engine)
    _finish(outcome, Path(run_dir))


@app.command()
def status(run_dir: Path = typer.Argument(..., help="A run directory.")):
    """Per stage: evaluations done / planned, and failures."""
    table = api.status(run_dir)
    t = Table("stage", "done", "planned", "failed")
    for r in table.itertuples():
        t.add_row(str(r.stage), str(r.done), "?" if r.total is None else str(r.total), str(r.failed))
    out_console.print(t)
    fails = api.failures(run_dir)
    for r in fails.itertuples():
        _say(f"failed: {r.evaluation_key} ({getattr(r, 'stage', '')}): {r.error}")


@app.command()
def export(run_dir: Path = typer.Argument(..., help="A run directory."),
           out: Optional[Path] = typer.Option(None, "--out", help="Where to write the CSV files.")):
    """Write evaluations.csv, predictions.csv, nulls.csv and step_tests.csv."""
    paths = api.export(run_dir, out)
    for name, path in paths.items():
        _say(f"{name}: {path}")


@app.command()
def report(run_dir: Path = typer.Argument(..., help="A run directory.")):
    """(Re)build RUN_DIR/report.html."""
    _say(f"report: {api.report(run_dir)}")


@app.command()
def demo(
    out: Path = typer.Option(Path("cohortbench-demo"), "--out", help="Where to write the cohort and the run."),
    quick: bool = typer.Option(False, "--quick", help="A reduced study for a first look (about a minute)."),
    full: bool = typer.Option(False, "--full", help="The published study, unreduced (~5 h on 2 cores; resumable)."),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="Local worker processes (default: all cores)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress display."),
    engine: str = typer.Option("fast", "--engine", help="fast (exact, shares work) | reference (plain scikit-learn)"),
):
    """Write the built-in synthetic cohort and run the default study on it."""
    if engine not in ("reference", "fast"):
        raise CohortbenchError(f"--engine must be 'reference' or 'fast', not '{engine}'")
    if full and not quick:
        _say("running the full published study: about 5 hours on a 2-core laptop for this cohort "
             "(benchmarks/RESULTS.md); interrupt at any time and run the same command again to resume")
    outcome, notes = api.demo(out, quick=quick, full=full, jobs=jobs, quiet=quiet, engine=engine)
    if notes:
        _say("this demo differs from the published study in:")
        for n in notes:
            _say(f"  - {n}")
    _finish(outcome, out / "run")


@app.command()
def extract(
    spec: Path = typer.Argument(..., help="The extraction file (YAML; see docs/extract.md)."),
    out: Path = typer.Option(..., "--out", help="Folder for the tables, qc.tsv and study.yaml."),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="Local worker processes (default: all cores)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress display."),
):
    """Region tables from NIfTI/MGZ maps and label images (resumes in the same --out)."""
    outcome = api.extract(spec, out, jobs=jobs, quiet=quiet)
    _say(f"{len(outcome.tables)} map table(s) in {outcome.out / 'maps'}; (subject, map) pairs: "
         f"{outcome.computed} computed, {outcome.reused} reused")
    for w in outcome.warnings:
        _say(f"warning: {w}")
    _say(f"qc:    {outcome.qc}")
    _say(f"study: {outcome.study}")
    _say(f"next: edit the tasks in {outcome.study}, then cohortbench validate {outcome.study}")


def main(argv=None) -> None:
    """Entry point: user errors become one line and exit code 2."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            try:
                rc = app(args=argv, standalone_mode=False)
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
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - a bug: say so, keep the traceback for the report
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(2)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        import traceback

        traceback.print_exc()
        print(f"cohortbench: unexpected error ({type(exc).__name__}); please report it", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
