"""Editor settings shapes -> the settings loader's dotted overrides."""

from __future__ import annotations

import pytest

from codeassist.config import load_settings
from lsp.settings import snake, to_overrides


def test_config_toml_shape_dotted_wrapped_and_camel_case_agree():
    expected = {"completion.debounce_ms": 0, "model.endpoint": "daemon"}
    assert to_overrides({"completion": {"debounce_ms": 0}, "model": {"endpoint": "daemon"}}) == (
        expected
    )
    assert to_overrides({"completion.debounce_ms": 0, "model.endpoint": "daemon"}) == expected
    assert to_overrides(
        {"codeassist": {"completion": {"debounceMs": 0}, "model.endpoint": "daemon"}}
    ) == (expected)
    assert to_overrides(None) == {}
    assert to_overrides({}) == {}


def test_overrides_feed_the_one_settings_loader(tmp_path):
    overrides = to_overrides(
        {"completion": {"disabledLanguages": ["markdown"], "budgetTokens": 512}}
    )
    settings = load_settings(repo=tmp_path, overrides=overrides, overrides_source="editor settings")
    assert settings.completion.disabled_languages == ["markdown"]
    assert settings.completion.budget_tokens == 512
    assert settings.source_of("completion.budget_tokens") == "editor settings"


def test_wrong_shapes_name_the_problem():
    with pytest.raises(ValueError, match="needs a section"):
        to_overrides({"debounce_ms": 5})
    with pytest.raises(ValueError, match="must be an object"):
        to_overrides(["completion"])


def test_snake():
    assert snake("debounceMs") == "debounce_ms"
    assert snake("budget_tokens") == "budget_tokens"
    assert snake("disabledLanguages") == "disabled_languages"
