"""The confound-removal and harmonization steps as words: one text per option, and back.

A pipeline's ``confounds`` and ``harmonize`` steps (issue 21) are shown, stored and
exported as short texts, so that ``evaluations.csv``, the per-step tests and a later
stage's ``pipeline: best`` all name an option the same way:

- ``confounds``: ``none``, or the covariates joined by ``+`` (``age+sex+icv``);
- ``harmonize``: ``none``, ``combat``, or ``combat (preserve age+sex)``,
  ``combat (unseen_site fit-unlabeled)``, ``combat (preserve age; unseen_site fit-unlabeled)``.

:func:`parse_confounds` and :func:`parse_harmonize` read these texts back. Covariate
names therefore may not contain ``+``, ``;``, ``(`` or ``)`` (the study refuses them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "SIDE_STEPS",
    "RESERVED_CHARACTERS",
    "confounds_text",
    "harmonize_text",
    "side_texts",
    "parse_confounds",
    "parse_harmonize",
    "side_fields",
]

#: The steps that use per-subject side data, in pipeline order (harmonize first).
SIDE_STEPS = ("harmonize", "confounds")
#: Characters a covariate name may not hold (they separate names in the texts).
RESERVED_CHARACTERS = "+;()"

_HARMONIZE = re.compile(r"^combat(?: \((?P<inner>[^()]*)\))?$")


def confounds_text(confounds: Sequence[str]) -> str:
    """``none``, or the covariate names joined by ``+``."""
    return "+".join(confounds) if confounds else "none"


def harmonize_text(method: str, preserve: Sequence[str] = (), unseen_site: str = "error") -> str:
    """``none``, ``combat``, or ``combat (preserve a+b; unseen_site fit-unlabeled)``."""
    if method == "none":
        return "none"
    parts = []
    if preserve:
        parts.append(f"preserve {'+'.join(preserve)}")
    if unseen_site != "error":
        parts.append(f"unseen_site {unseen_site}")
    return method + (f" ({'; '.join(parts)})" if parts else "")


def side_texts(config) -> dict[str, str]:
    """The side steps of a :class:`~cohortbench.design.configs.PipelineConfig` that are set.

    Returns
    -------
    dict
        ``{"harmonize": ..., "confounds": ...}`` holding only the steps not at ``none``
        (empty for a configuration without them, so its records are as before).
    """
    out = {}
    if config.harmonize != "none":
        out["harmonize"] = harmonize_text(config.harmonize, config.preserve, config.unseen_site)
    if config.confounds:
        out["confounds"] = confounds_text(config.confounds)
    return out


def parse_confounds(text) -> tuple[str, ...]:
    """The covariates of a ``confounds`` text (``()`` for ``none`` or empty)."""
    if text is None or str(text) in ("", "none", "nan"):
        return ()
    return tuple(str(text).split("+"))


def parse_harmonize(text) -> dict:
    """``{"harmonize", "preserve", "unseen_site"}`` of a ``harmonize`` text.

    Raises
    ------
    ValueError
        When the text is not one :func:`harmonize_text` writes.
    """
    if text is None or str(text) in ("", "none", "nan"):
        return {"harmonize": "none", "preserve": (), "unseen_site": "error"}
    match = _HARMONIZE.match(str(text))
    if match is None:
        raise ValueError(f"{text!r} is not a harmonize option (none, combat, combat (...)).")
    preserve, unseen = (), "error"
    for part in filter(None, (match.group("inner") or "").split("; ")):
        key, _, value = part.partition(" ")
        if key == "preserve":
            preserve = tuple(value.split("+"))
        elif key == "unseen_site":
            unseen = value
        else:
            raise ValueError(f"{text!r}: unknown harmonize setting {key!r}.")
    return {"harmonize": "combat", "preserve": preserve, "unseen_site": unseen}


def side_fields(steps: dict) -> dict:
    """The :class:`PipelineConfig` keywords of a step dict's side steps (texts).

    A step dict without ``confounds``/``harmonize`` gives the defaults.
    """
    return {"confounds": parse_confounds(steps.get("confounds")),
            **parse_harmonize(steps.get("harmonize"))}
