"""README is true: its two set-up commands come first, and its Python example runs as a script."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import write_tiny_study

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def python_example() -> str:
    section = README.split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_two_setup_commands_come_first():
    first_block = re.search(r"```\n(.*?)```", README, re.S).group(1).split("\n")
    assert [line for line in first_block if line] == ["make demo", "make test"]
    assert README.index("make demo") < README.index("## ")
    makefile = (ROOT / "Makefile").read_text()
    assert "\ndemo:" in makefile and "\ntest:" in makefile


def _study(tmp_path: Path) -> Path:
    study = write_tiny_study(tmp_path / "cohort", permutations=0)
    text = study.read_text()
    study.write_text(text.split("  - name: refine")[0])  # screen only: quick
    return study


def _script(tmp_path: Path, code: str) -> subprocess.CompletedProcess:
    study = _study(tmp_path)
    code = code.replace("my-study/study.yaml", str(study)).replace("runs/my-study",
                                                                     str(tmp_path / "run"))
    code = code.replace('"3-class"', '"2-class"')
    script = tmp_path / "analysis.py"
    script.write_text(code, encoding="utf-8")
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)


def test_the_python_example_runs_as_a_script(tmp_path):
    r = _script(tmp_path, python_example())
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("EvaluationResult(task='2-class', accuracy=")
    assert len(lines[0]) < 200  # a short repr, not thousands of characters
    assert lines[1].startswith("RunStatus(complete")
    assert (tmp_path / "run" / "report.html").exists()


def test_an_unguarded_script_is_told_what_to_do(tmp_path):
    unguarded = "\n".join(line[4:] if line.startswith("    ") else line
                          for line in python_example().splitlines()
                          if not line.startswith("if __name__"))
    r = _script(tmp_path, unguarded)
    assert r.returncode != 0
    assert "if __name__ == \"__main__\":" in r.stderr
    assert "out of memory" not in r.stderr


@pytest.mark.parametrize("name", ["docs/interpreting.md", "LICENSE", "CITATION.cff",
                                  "docs/engines.md", "docs/extract.md"])
def test_readme_links_exist(name):
    assert name in README and (ROOT / name).exists()
