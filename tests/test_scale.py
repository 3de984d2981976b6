"""Scale: peak memory of a small study stays within the documented bound.

The full case (500 subjects x 20,000 features) is ``benchmarks/bench_scale.py``
and its numbers are in ``benchmarks/RESULTS.md`` ("Scale (peak memory)"). Here
smaller cohorts run through the same script, in a subprocess so that the peak
RSS measured is that run's alone, against the same per-process bound: the
fixed import cost + 256 MiB + 14 x the float64 feature matrix (at 500 x 20,000
that is <= 1.5 GiB; 0.82 GiB was measured).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_scale.py"
BOUND_BASE_MIB = 256.0
BOUND_PER_MATRIX = 14.0


def _bench(*args: str) -> dict:
    child = subprocess.run([sys.executable, str(BENCH), "--json", *args],
                           capture_output=True, text=True, timeout=300, check=False)
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout.strip().splitlines()[-1])


def _bound_mib(result: dict) -> float:
    return result["rss_after_imports_mib"] + BOUND_BASE_MIB + BOUND_PER_MATRIX * result["feature_matrix_mib"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads peak RSS from /proc")
def test_single_process_run_stays_within_the_memory_bound():
    r = _bench("--subjects", "200", "--features", "9000", "--classifiers", "MLR_L2",
               "--permutations", "1", "--jobs", "1")
    assert (r["subjects"], r["features"]) == (200, 9000)
    assert r["feature_matrix_mib"] == pytest.approx(200 * 9000 * 8 / 2**20, abs=0.1)
    # one classifier x the 2-class and 3-class tasks, all computed
    assert r["evaluations_total"] == r["evaluations_computed"] == 2
    assert r["evaluations_failed"] == 0
    # the run process did load the data: its peak is above the bare import cost
    assert r["peak_rss_self_mib"] > r["rss_after_imports_mib"] + r["feature_matrix_mib"]
    bound = _bound_mib(r)
    assert r["peak_rss_self_mib"] <= bound, (
        f"peak RSS {r['peak_rss_self_mib']:.0f} MiB exceeds the documented bound {bound:.0f} MiB "
        f"for a {r['feature_matrix_mib']:.1f} MiB feature matrix")
    assert r["peak_rss_worker_mib"] == 0.0  # --jobs 1 runs inline


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads peak RSS from /proc")
def test_two_worker_run_stays_within_the_memory_bound_per_process():
    r = _bench("--subjects", "120", "--features", "3600", "--classifiers", "MLR_L2",
               "--permutations", "1", "--jobs", "2")
    assert r["evaluations_total"] == r["evaluations_computed"] == 2
    assert r["evaluations_failed"] == 0
    bound = _bound_mib(r)
    assert 0 < r["peak_rss_worker_mib"] <= bound
    assert r["peak_rss_self_mib"] <= bound
    assert r["peak_rss_tree_mib"] <= 3 * bound  # the run process and two workers
