"""Timed fits of a study's own data: what the time estimate is made from.

A *probe* evaluates a few of a stage's configurations, with the study's own
engine, on the study's own data, for two outer folds and a few label vectors,
and records the seconds each configuration took per (outer fold x label
vector), the unit in which an evaluation's cost is linear
(``benchmarks/RESULTS.md``, "Scaling: shuffles and configurations").

What is probed is a function of the plan alone (never of timings):

- configurations are grouped into *strata* that cost alike: same classifier,
  search, scaling class (unscaled = row and column scaling ``none``, where RFE's
  ranking SVR is solver-bound, or scaled), selection and reduction; each stratum
  is represented by one configuration (its median ``n_features``; for RFE the
  smallest, since the elimination path runs down to the smallest k);
- the two outer folds are those of the real labels' first outer split, so each
  probed fold trains on as many rows as a real one (see :func:`probe_problem`);
- label vectors are shuffles (50 of the published study's 51 vectors are), several
  together so that the engine's stacking across label vectors (networks, saga lanes)
  is in the measurement; searches, whose candidates already stack, use one.

Nothing is written anywhere: probes run in memory, in this process.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from ..design.classifiers import search_space
from ..design.configs import CVScheme, PipelineConfig
from .problem import Problem
from .splits import outer_splits, parse_cv_scheme

__all__ = [
    "PROBE_FOLDS",
    "PROBE_VECTORS",
    "ProbeTimes",
    "WorkerProbe",
    "kbest_twin",
    "probe_batches",
    "probe_problem",
    "probe_study",
    "representatives",
    "rfe_prefixes",
    "scaling_class",
    "search_from_default",
    "stratum",
    "time_probe",
    "time_rfe_path",
    "warm_up",
    "warm_up_study",
]

#: Label vectors probed per configuration: one (its label-free work is apportioned
#: by the engine, see ``PartialEvaluation.split_seconds``) ...
PROBE_VECTORS = 1
#: ... and several for the classifiers the fast engine trains together across the
#: label vectors of a split (networks in stacks, ``mlp_batch``; saga lanes,
#: ``saga_batch``), so that the stacking is inside the measurement.
STACKED_VECTORS = 4
STACKED = frozenset({"MLP", "MLR_L1", "MLR_ENET"})
#: Outer folds of every probe (the probe problem's two evaluated rows).
PROBE_FOLDS = 2


def scaling_class(config: PipelineConfig) -> str:
    """``unscaled`` (row and column scaling ``none``: RFE's SVR is solver-bound there) or ``scaled``."""
    return "unscaled" if config.row_scaling == "none" and config.column_scaling == "none" \
        else "scaled"


def stratum(config: PipelineConfig, coarse: bool = False) -> tuple:
    """The group of configurations that cost alike (``n_features`` aside).

    ``coarse`` (for stages priced as an upper bound) lets scaled and unscaled
    values share a stratum, except for RFE.
    """
    cls = scaling_class(config)
    if coarse and config.feature_selection != "rfe":
        cls = "any"
    return (config.classifier, config.search, cls, config.feature_selection,
            config.dim_reduction)


def representatives(configs: list[PipelineConfig],
                    coarse: bool = False) -> OrderedDict[tuple, PipelineConfig]:
    """One configuration per stratum (:func:`stratum`), in plan order.

    The median ``n_features`` of the stratum (the lower one of two middles), the
    first in plan order with it; for RFE the smallest ``n_features`` of the
    stratum's scaling class, because one elimination path per scaling prefix runs
    down to the smallest k of the prefix and serves every larger one.
    """
    members: OrderedDict = OrderedDict()
    for c in configs:
        members.setdefault(stratum(c, coarse), []).append(c)
    rfe_min: dict[str, int] = {}
    for c in configs:
        if c.feature_selection == "rfe":
            cls = scaling_class(c)
            rfe_min[cls] = min(rfe_min.get(cls, c.n_features), c.n_features)
    reps: OrderedDict = OrderedDict()
    for key, group in members.items():
        if group[0].feature_selection == "none":
            reps[key] = group[0]
            continue
        if group[0].feature_selection == "rfe":
            target = rfe_min[key[2]]
        else:
            target = statistics.median_low(sorted(c.n_features for c in group))
        reps[key] = next((c for c in group if c.n_features == target),
                         dataclasses.replace(group[0], n_features=target))
    return reps


def probe_problem(problem: Problem, cv: CVScheme) -> Problem:
    """``problem`` with two evaluated rows, the rest training only.

    The two rows are the first test row of the real labels' first outer split and
    another (the second test row, or with leave-one-out the first training row);
    every other training row of that split becomes a train-only row and the rest
    of its test rows are left out. Leave-one-out over the two rows then gives two
    folds that each train on as many rows as the real split (one more with
    k-fold outer CV), with the same hybrid train-only rows.
    """
    train, test = outer_splits(problem.y, problem.n_eval, cv.outer, cv.seed)[0]
    second = test[1] if len(test) > 1 else train[0]
    chosen = [int(test[0]), int(second)]
    order = chosen + [int(i) for i in train if int(i) not in chosen]
    return dataclasses.replace(problem, X=problem.X[order], y=problem.y[order], n_eval=2,
                               subjects=tuple(problem.subjects[i] for i in order))


@dataclass(frozen=True)
class ProbeTimes:
    """CPU seconds of each probed configuration: per outer split, and per (split x label vector).

    An evaluation over P + 1 label vectors pays the *per split* part (label-free
    work: scaling, PCA, kernel products, ...) once per outer training set and the
    *per pair* part (the fits, selection, RFE) once per (split, label vector).
    CPU rather than wall seconds, so that a moment of contention on a shared
    machine does not distort one configuration's price; ``wall / cpu`` over all
    probes says how busy the machine is (the estimate converts back with it).

    Attributes
    ----------
    seconds : dict
        Configuration -> ``(per split, per pair)`` CPU seconds.
    n_fits : int
        Configurations x folds x label vectors evaluated.
    wall, cpu : float
        Wall-clock and CPU seconds the probe took.
    """

    seconds: dict
    n_fits: int
    wall: float
    cpu: float


def time_rfe_path(problem: Problem, cv: CVScheme, prefix: tuple, k_min: int) -> tuple[float, float]:
    """CPU and wall seconds of one RFE elimination path, as the fast engine computes it.

    On the training rows of the probe's first fold, under the first shuffle (or the
    real labels when the study has none), down to ``k_min`` features. One path per
    (fold, label vector, scaling prefix) serves every k, reduction and classifier.
    """
    from .fast.shared_transforms import FoldTransforms, LabelTransforms, ViewTransforms
    from .permutations import label_vectors

    probe = probe_problem(problem, cv)
    y = label_vectors(probe, dataclasses.replace(cv, permutations=1))[1 if cv.permutations else 0]
    train, test = np.arange(1, len(probe.y)), np.arange(1)
    with threadpool_limits(1):
        fold = FoldTransforms(ViewTransforms(probe.X, probe.blocks), train, test)
        width = fold.prefix(*prefix).value[0].shape[1]  # label-free: not part of the path
        labels = LabelTransforms(fold, y[train], {prefix: max(1, min(k_min, width))})
        t0, c0 = time.perf_counter(), time.process_time()
        labels.rfe(prefix)
        return time.process_time() - c0, time.perf_counter() - t0


def probe_batches(configs: list[PipelineConfig]) -> list[tuple[list, int]]:
    """The probes of one problem's representatives: ``(configurations, label vectors)``.

    Searches use one label vector: their candidates and inner folds already fill
    the engine's stacks.
    """
    plain = [c for c in configs if c.search == "none" and c.classifier not in STACKED]
    stacked = [c for c in configs if c.search == "none" and c.classifier in STACKED]
    searched = [c for c in configs if c.search != "none"]
    return [(batch, n) for batch, n in ((plain, PROBE_VECTORS), (stacked, STACKED_VECTORS),
                                        (searched, 1)) if batch]


def _vectors(cv: CVScheme, wanted: int) -> tuple[int, int]:
    """The label vectors to probe: shuffles when the study has enough, else all."""
    if cv.permutations >= wanted:
        return 1, 1 + wanted
    return 0, 1 + cv.permutations


def time_probe(problem: Problem, configs: list[PipelineConfig], cv: CVScheme, engine: str,
               n_vectors: int = PROBE_VECTORS) -> ProbeTimes:
    """Evaluate ``configs`` together on ``problem``'s probe; time each one.

    With the fast engine the configurations share their work as in a real unit,
    and each one's seconds are the engine's own apportionment
    (``PartialEvaluation.seconds``: its fits plus an even share of what it
    shared); a configuration the fast engine cannot take, and every
    configuration of the reference engine, is timed alone with the reference
    engine, as the runner would evaluate it.
    """
    from .reference_engine import evaluate_reference

    probe = probe_problem(problem, cv)
    start, stop = _vectors(cv, n_vectors)
    probe_cv = dataclasses.replace(cv, outer="loo", permutations=stop - 1)
    pairs = PROBE_FOLDS * (stop - start)
    seconds: dict = {}
    t0, c0 = time.perf_counter(), time.process_time()
    with threadpool_limits(1):  # as in the runner's workers
        parts = [None] * len(configs)
        if engine == "fast":
            from .fast import evaluate_fast_part

            try:
                parts = evaluate_fast_part(probe, configs, probe_cv, (start, stop))
            except Exception:  # noqa: BLE001 - the runner then falls back, and so do we
                parts = [None] * len(configs)
        # The engine apportions wall seconds among configurations; scale them to CPU.
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        share = min(cpu / wall, 1.0) if wall > 0 else 1.0
        for config, part in zip(configs, parts):
            if part is not None and not isinstance(part, Exception):
                label_free = part.split_seconds * share
                seconds[config] = (label_free / PROBE_FOLDS,
                                   (part.seconds * share - label_free) / pairs)
                continue
            ref_cv = dataclasses.replace(probe_cv, permutations=stop - start - 1)
            c = time.process_time()
            try:
                evaluate_reference(probe, config, ref_cv)
            except Exception:  # noqa: BLE001 - a failure costs what it cost
                pass
            seconds[config] = (0.0, (time.process_time() - c) / pairs)
    return ProbeTimes(seconds, len(configs) * pairs, time.perf_counter() - t0,
                      time.process_time() - c0)


def warm_up(problem: Problem, configs: list[PipelineConfig], cv: CVScheme, engine: str) -> float:
    """Run ``configs`` once on a tiny slice of ``problem``; return the CPU seconds it took.

    The first use of a classifier in a process imports its library and loads the
    engine's compiled loops; that one-off cost must not be read as a fit's cost
    (each worker process pays it once: the estimate counts it there).
    """
    probe = probe_problem(problem, cv)
    width = min(12, probe.X.shape[1])
    tiny = dataclasses.replace(probe, X=np.ascontiguousarray(probe.X[:, :width]),
                               blocks=((0, width),))
    configs = [dataclasses.replace(c, n_features=min(c.n_features, width - 1) or 1)
               if c.n_features else c for c in configs]
    c0 = time.process_time()
    try:
        time_probe(tiny, configs, dataclasses.replace(cv, permutations=min(cv.permutations, 1)),
                   engine, n_vectors=1)
    except Exception:  # noqa: BLE001 - a warm-up that fails has still warmed up
        pass
    return time.process_time() - c0


_IMPORTS = ("import time, cohortbench.execute.units, cohortbench.execute.fast; "
            "print(time.process_time())")


class WorkerProbe:
    """A Python process that starts as a worker does, timed against this one.

    It imports what a worker imports, while this process goes on working (warm-up,
    then probes). Over its lifetime the two processes' CPU shares say how many
    cores two processes get together on this machine now: two on an idle machine,
    about one where other work takes the rest (e.g. at a higher priority).
    """

    def __init__(self):
        self.result_: tuple[float, float | None] = (0.0, None)
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        try:
            self.process = subprocess.Popen([sys.executable, "-c", _IMPORTS],
                                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                            env=env, text=True)
        except OSError:  # pragma: no cover - no interpreter to start
            self.process = None
            return
        self.thread = threading.Thread(target=self._wait, daemon=True)
        self.thread.start()

    def _wait(self) -> None:
        try:
            out, _ = self.process.communicate(timeout=300)
            # process_time is this whole process's: the main thread's work meanwhile
            span, main = time.perf_counter() - self.t0, time.process_time() - self.c0
            started = float(out.strip().splitlines()[-1])
            self.result_ = (started, (main + started) / span if span > 0 else None)
        except Exception:  # noqa: BLE001 - an estimate without it is still an estimate
            self.process.kill()

    def result(self) -> tuple[float, float | None]:
        """(CPU seconds a worker takes to start, cores two processes got together, or None)."""
        if self.process is not None:
            self.thread.join()
        return self.result_


def kbest_twin(config):
    """The configuration whose classifier fit an RFE configuration's equals: SelectKBest, same k."""
    return dataclasses.replace(config, feature_selection="kbest")


def rfe_prefixes(configs) -> dict:
    """Scaling class -> (first RFE prefix of that class in plan order, smallest k of the class)."""
    out: dict = {}
    for c in configs:
        if c.feature_selection == "rfe" and c.search == "none":
            prefix = (c.row_scaling, c.imputation, c.column_scaling)
            first, k = out.get(scaling_class(c), (prefix, c.n_features))
            out[scaling_class(c)] = (first, min(k, c.n_features))
    return out


def warm_up_study(groups, problems, cv, engine: str) -> float:
    """CPU seconds of a worker's first uses of the study's classifiers and searches.

    Warms this process up (library imports, compiled loops), so that the probes
    after it time fits only; with one worker the run then starts warm.
    """
    # One plain configuration per (classifier, selection), and each search strategy
    # once with KNN (cheap): the first uses are what is slow, not the fits.
    warm = {}
    for by_problem in groups:
        for members in by_problem.values():
            for c in representatives([p.config for p in members]).values():
                warm.setdefault((c.classifier, "none", c.feature_selection),
                                dataclasses.replace(c, search="none"))
                if c.search != "none":
                    warm.setdefault(("KNN", c.search), PipelineConfig(
                        "KNN", row_scaling="standard", column_scaling="standard", search=c.search))
    if not warm:
        return 0.0
    first = next(key for by_problem in groups for key in by_problem)
    return warm_up(problems[first], list(warm.values()), cv, engine)


def probe_study(plans, groups, problems, cv, engine: str) -> tuple[dict, dict, int, float]:
    """Time what each stage's evaluations are priced from.

    Returns ``times`` ((problem, config) -> (per split, per pair) CPU seconds),
    ``paths`` ((problem, scaling class) -> CPU seconds of one RFE path), the number
    of fits timed, and how busy the machine was (wall / CPU seconds, at least 1).

    With the fast engine an RFE configuration is not probed: it costs its
    SelectKBest twin's fit plus its share of one elimination path, timed alone.
    In a stage whose classifiers are assumed (every one the shortlist could keep),
    strata are coarser (:func:`~.cost_probe.stratum`) and searches are not run
    (tuning every classifier that might be shortlisted would take as long as a
    small study): a search is priced from its pipeline's default fit
    (:func:`search_from_default`).
    """
    times: dict = {}
    paths: dict = {}
    derived: dict = {}
    n_fits, wall, cpu = 0, 0.0, 0.0
    for plan, by_problem in zip(plans, groups):
        coarse = plan.n_classifiers is not None  # an upper bound over assumed classifiers
        for pkey, members in by_problem.items():
            configs = [p.config for p in members]
            wanted = []
            for c in representatives(configs, coarse).values():
                if engine == "fast" and c.feature_selection == "rfe" and c.search == "none":
                    wanted.append(kbest_twin(c))
                elif coarse and c.search != "none":
                    derived[(pkey, c)] = dataclasses.replace(c, search="none")
                    wanted.append(kbest_twin(derived[(pkey, c)])
                                  if c.feature_selection == "rfe" else derived[(pkey, c)])
                else:
                    wanted.append(c)
            fresh = list(dict.fromkeys(c for c in wanted if (pkey, c) not in times))
            for batch, n_vectors in probe_batches(fresh):
                probe = time_probe(problems[pkey], batch, cv, engine, n_vectors=n_vectors)
                n_fits, wall, cpu = n_fits + probe.n_fits, wall + probe.wall, cpu + probe.cpu
                times.update({(pkey, c): t for c, t in probe.seconds.items()})
            for cls, (prefix, k_min) in (rfe_prefixes(configs).items() if engine == "fast" else ()):
                if (pkey, cls) not in paths:
                    path_cpu, path_wall = time_rfe_path(problems[pkey], cv, prefix, k_min)
                    paths[(pkey, cls)] = path_cpu
                    n_fits, wall, cpu = n_fits + 1, wall + path_wall, cpu + path_cpu
    for (pkey, config), default in derived.items():
        if default.feature_selection == "rfe":  # its default: the twin's fit and one path
            split, pair = times[(pkey, kbest_twin(default))]
            times[(pkey, default)] = (split, pair + paths.get((pkey, scaling_class(default)), 0.0))
        times.setdefault((pkey, config), search_from_default(config, times[(pkey, default)], cv))
    return times, paths, n_fits, (max(1.0, wall / cpu) if cpu > 0.05 else 1.0)


def search_from_default(config, default: tuple[float, float], cv) -> tuple[float, float]:
    """(per split, per pair) seconds of a search, from its pipeline's default fit.

    Per outer pair, a search with n candidates (random and bayes get the grid's
    number: matched budgets) fits each candidate in k inner folds on (k - 1)/k of
    the rows, with label-free work once per inner fold, then refits the choice:
    ``(k - 1) x split + (n (k - 1) + 1) x pair``, the candidates costing what the
    default costs.
    """
    split, pair = default
    k = parse_cv_scheme(cv.inner)[1]
    n = search_space(config.classifier).grid_size
    return split, (k - 1) * split + (n * (k - 1) + 1) * pair
