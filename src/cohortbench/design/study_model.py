"""The base of every study-file model: strict types, no unknown keys, frozen."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

from .study_errors import study_error, unknown_key_message

__all__ = ["StudyModel"]


class StudyModel(BaseModel):
    """Base of every study-file model: strict types, no unknown keys.

    Strict mode keeps YAML's own types (``"3"`` is not a number, ``yes`` is not
    text); a subclass may set ``_key_hints`` (key -> advice) for keys users
    commonly write in the wrong place.
    """

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        validate_by_alias=True,
        validate_by_name=True,
    )
    _key_hints: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        allowed = [field.alias or name for name, field in cls.model_fields.items()]
        accepted = set(allowed) | set(cls.model_fields)
        for key in data:
            if key not in accepted:
                raise study_error(unknown_key_message(key, allowed, cls._key_hints), str(key))
        return data
