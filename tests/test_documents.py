"""LICENSE, CITATION.cff and docs/interpreting.md: present, consistent with the package and the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

import cohortbench
from cohortbench.analyse.verdicts import p_floor, wilcoxon_floor

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

# CFF 1.2.0 (citation-file-format schema.json): the allowed top-level keys, and the
# reference fields used here with their types.
CFF_TOP_LEVEL = {
    "abstract", "authors", "cff-version", "commit", "contact", "date-released", "doi",
    "identifiers", "keywords", "license", "license-url", "message", "preferred-citation",
    "references", "repository", "repository-artifact", "repository-code", "title", "type",
    "url", "version",
}
CFF_PERSON = {"family-names", "given-names", "name-particle", "name-suffix", "affiliation",
              "address", "alias", "city", "country", "email", "fax", "orcid", "post-code",
              "region", "tel", "website"}
CFF_DOI = re.compile(r"^10\.\d{4,9}(\.\d+)?/[A-Za-z0-9:/_;\-\.\(\)\[\]\\]+$")


def test_license_is_the_bsd_3_clause_text():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert PYPROJECT["license"]["text"] == "BSD-3-Clause"
    assert text.startswith("BSD 3-Clause License\n\nCopyright (c) 2026, cohortbench developers\n")
    for clause in ("1. Redistributions of source code must retain",
                   "2. Redistributions in binary form must reproduce",
                   "3. Neither the name of the copyright holder nor the names of its"):
        assert clause in text
    assert "EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE." in text


def test_citation_cff_is_valid_cff_1_2_0_and_matches_the_package():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert set(cff) <= CFF_TOP_LEVEL
    assert {"authors", "cff-version", "message", "title"} <= set(cff)
    assert cff["cff-version"] == "1.2.0"
    assert cff["title"] == "cohortbench" and cff["type"] == "software"
    assert str(cff["version"]) == PYPROJECT["version"] == cohortbench.__version__
    assert cff["license"] == PYPROJECT["license"]["text"]
    assert cff["authors"] == [{"name": "cohortbench developers"}]
    ref = cff["preferred-citation"]
    assert {"type", "title", "authors"} <= set(ref) and ref["type"] == "article"
    assert ref["doi"] == "10.3389/fninf.2025.1568116" and CFF_DOI.match(ref["doi"])
    for key in ("volume", "start", "year", "month"):
        assert isinstance(ref[key], int)
    assert (ref["journal"], ref["volume"], ref["start"], ref["year"]) == (
        "Frontiers in Neuroinformatics", 19, 1568116, 2025)
    assert re.match(r"^\d{4}-\d{2}-\d{2}$", ref["date-published"])
    assert [a["family-names"] for a in ref["authors"]][:2] == ["Appukuttan", "Grapperon"]
    assert len(ref["authors"]) == 10
    for author in ref["authors"]:
        assert set(author) <= CFF_PERSON


def _table(text: str, header: str) -> list[tuple[str, str]]:
    lines = text[text.index(header):].splitlines()[2:]
    rows = []
    for line in lines:
        line = line.strip()
        if not line.startswith("|"):
            break
        rows.append(tuple(cell.strip() for cell in line.strip("|").split("|")))
    return rows


def test_interpreting_tables_agree_with_the_code():
    text = (ROOT / "docs" / "interpreting.md").read_text(encoding="utf-8")
    permutations = _table(text, "| shuffles P | smallest possible p |")
    assert len(permutations) >= 6
    for shuffles, floor in permutations:
        assert float(floor) == pytest.approx(p_floor(int(shuffles)), abs=5e-4)
    pairs = _table(text, "| pairs n | smallest possible p |")
    assert len(pairs) >= 6
    for n, floor in pairs:
        assert float(floor) == pytest.approx(wilcoxon_floor(int(n)).smallest_p, abs=5e-4)


def test_interpreting_cites_the_method_and_says_intervals_are_a_lower_bound():
    text = (ROOT / "docs" / "interpreting.md").read_text(encoding="utf-8")
    for needle in ("doi:10.3389/fninf.2025.1568116", "19:1568116", "CITATION.cff",
                   "lower bound on the uncertainty", "NeuroImage* 180:68", "1/(P+1)",
                   "not independent"):
        assert needle in text


def test_readme_links_the_documents():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("docs/interpreting.md", "CITATION.cff", "LICENSE"):
        assert name in readme
