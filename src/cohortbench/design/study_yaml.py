"""Reading a study file's YAML safely.

Only YAML's plain types are built (a :class:`yaml.SafeLoader` subclass): a tag such
as ``!!python/object/apply:os.system`` is refused, never constructed. A key given
twice in one mapping, which YAML would silently resolve to the last value, is
refused too. Every problem becomes a :class:`~cohortbench.errors.StudyError` naming
the file and the line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import StudyError

__all__ = ["read_study_yaml"]


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, first_line: int):
        super().__init__(key)
        self.key, self.line, self.first_line = key, line, first_line


class _StudyLoader(yaml.SafeLoader):
    """SafeLoader that also refuses a key repeated in one mapping (YAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[tuple, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = (key_node.tag, key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _DuplicateKey(key_node.value, line, seen[key])
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


_TAG_PROBLEM = re.compile(r"constructor for the tag '([^']*)'")


def _yaml_error_message(exc: yaml.YAMLError, source: str) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"line {mark.line + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None and mark is not None and context_mark.line != mark.line:
        # YAML notices an unclosed bracket or quote lines later; name where it began too.
        problem = f"{problem} {context} that starts on line {context_mark.line + 1}"
    tag = _TAG_PROBLEM.search(problem) if isinstance(exc, yaml.constructor.ConstructorError) else None
    if tag:
        shown = tag.group(1).replace("tag:yaml.org,2002:", "!!")
        return (
            f"{source}: {where}YAML tags such as '{shown}' are not allowed in a study file; "
            "write plain values (text, numbers, lists, mappings) instead"
        )
    return (
        f"{source}: {where}the file is not valid YAML ({problem}); check the indentation, "
        "colons and quotes there"
    )


def read_study_yaml(path: Path, source: str) -> Any:
    """Parse a study file with safe YAML; any problem becomes a one-line StudyError.

    Parameters
    ----------
    path : Path
        The file to read.
    source : str
        The file as the user named it, for messages.

    Returns
    -------
    object
        What the YAML holds (None for an empty file).
    """
    if not path.exists():
        raise StudyError(f"{source}: study file not found; check the path")
    if path.is_dir():
        raise StudyError(f"{source}: is a folder, not a study file; give the path of the .yaml file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise StudyError(f"{source}: the study file is not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise StudyError(f"{source}: cannot read the study file ({exc.strerror})") from None
    try:
        return yaml.load(text, Loader=_StudyLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as dup:
        raise StudyError(
            f"{source}: line {dup.line}: key '{dup.key}' is already given on line "
            f"{dup.first_line} of the same mapping; keep one"
        ) from None
    except yaml.YAMLError as exc:
        raise StudyError(_yaml_error_message(exc, source)) from None
