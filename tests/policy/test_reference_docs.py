"""docs/policy.md lists every element and key of the policy model."""

from __future__ import annotations

import inspect
from pathlib import Path

from pydantic import BaseModel

from servinfo.policy import model

DOC = Path(__file__).resolve().parents[2] / "docs" / "policy.md"


def test_every_model_and_key_is_documented() -> None:
    text = DOC.read_text("utf-8")
    models = [
        cls
        for _, cls in inspect.getmembers(model, inspect.isclass)
        if issubclass(cls, BaseModel) and cls.__module__ == model.__name__ and cls.model_fields
    ]
    assert models
    for cls in models:
        assert f"## `{cls.__name__}`" in text, cls.__name__
        section = text.split(f"## `{cls.__name__}`", 1)[1].split("\n## ", 1)[0]
        for key in cls.model_fields:
            assert f"| `{key}` |" in section, f"{cls.__name__}.{key}"
