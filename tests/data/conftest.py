"""Fixtures for the data-layer tests: tiny tables written to a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

PARTICIPANTS = """\
participant_id\tgroup\tscore\tmonths
s1\tHC\tn/a\tn/a
s2\tHC\tn/a\tn/a
s3\tALS\t40\t10
s4\tALS\t30\t12
s5\tALS\t44\t20
s6\tALS\t20\t8
"""

# Map A: every subject; map B: s6 is absent (misses the whole map), an extra subject x9
MAP_A = """\
participant_id\troi1\troi2\troi3
s1\t1.0\t2.0\t3.0
s2\t1.5\t2.5\t3.5
s3\t0.5\t2.1\t2.9
s4\t1.1\t1.9\t3.3
s5\t0.9\t2.2\t3.1
s6\t1.2\t2.4\t3.2
"""
MAP_B = """\
participant_id\troi1\troi2\troi3\troi4
s1\t10\t20\t30\t40
s2\t11\t21\t31\t41
s3\t12\t22\t32\t42
s4\t13\t23\t33\t43
s5\t14\t24\t34\t44
x9\t15\t25\t35\t45
"""


@pytest.fixture
def write(tmp_path):
    """Write ``text`` to ``tmp_path / name`` (creating folders); return the path."""

    def _write(name: str, text: str, *, encoding: str = "utf-8", newline: str | None = None) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding=encoding, newline=newline) as handle:
            handle.write(text)
        return path

    return _write


@pytest.fixture
def small_files(write) -> dict:
    """A six-subject cohort on disk: participants.tsv and maps A (3 ROIs) and B (4 ROIs)."""
    return {
        "participants": write("participants.tsv", PARTICIPANTS),
        "maps": {"A": write("maps/A.tsv", MAP_A), "B": write("maps/B.tsv", MAP_B)},
    }


@pytest.fixture
def enigma_dir() -> Path:
    return EXAMPLES / "enigma_epilepsy"
