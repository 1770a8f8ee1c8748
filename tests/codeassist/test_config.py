"""Settings: precedence of the sources, and errors that name the file, key and type."""

from __future__ import annotations

import pytest

from codeassist.config import load_settings
from codeassist.errors import UserError


@pytest.fixture
def repo(tmp_path):
    (tmp_path / ".git").mkdir()
    return tmp_path


def write_user_config(isolated_dirs, text: str):
    path = isolated_dirs / "config" / "codeassist" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_when_nothing_is_configured(repo):
    settings = load_settings(repo=repo)
    assert settings.model.endpoint == "daemon"
    assert settings.completion.budget_tokens == 3072
    assert settings.source_of("model.endpoint") == "default"


def test_each_source_overrides_the_one_before(repo, isolated_dirs, monkeypatch):
    user = write_user_config(
        isolated_dirs,
        '[model]\npath = "/user/model"\nendpoint = "http://127.0.0.1:1/v1"\n'
        "[completion]\nbudget_tokens = 100\ndebounce_ms = 5\n",
    )
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "x"\n'
        "[tool.codeassist.completion]\nbudget_tokens = 200\ndebounce_ms = 7\n"
    )
    (repo / ".codeassist.toml").write_text("[completion]\nbudget_tokens = 300\n")
    monkeypatch.setenv("CODEASSIST_MODEL_PATH", "/env/model")
    settings = load_settings(repo=repo, overrides={"model.endpoint": "daemon"})

    assert settings.model.path == "/env/model"
    assert settings.source_of("model.path") == "env CODEASSIST_MODEL_PATH"
    assert settings.model.endpoint == "daemon"
    assert settings.source_of("model.endpoint") == "flag"
    assert settings.completion.budget_tokens == 300
    assert settings.source_of("completion.budget_tokens").startswith(str(repo / ".codeassist.toml"))
    assert settings.completion.debounce_ms == 7
    assert "[tool.codeassist]" in settings.source_of("completion.debounce_ms")
    assert settings.source_of("model.name") == "default"
    assert str(user) not in settings.source_of("model.path")


def test_env_values_are_parsed_to_the_field_type(repo, monkeypatch):
    monkeypatch.setenv("CODEASSIST_COMPLETION_BUDGET_TOKENS", "4096")
    monkeypatch.setenv("CODEASSIST_ENGINE_DOUBLE_QUANT", "yes")
    monkeypatch.setenv("CODEASSIST_COMPLETION_DISABLED_LANGUAGES", "markdown, plaintext")
    settings = load_settings(repo=repo)
    assert settings.completion.budget_tokens == 4096
    assert settings.engine.double_quant is True
    assert settings.completion.disabled_languages == ["markdown", "plaintext"]


def test_unknown_key_names_file_key_and_suggestion(repo):
    (repo / ".codeassist.toml").write_text('[model]\npth = "/x"\n')
    with pytest.raises(UserError) as error:
        load_settings(repo=repo)
    message = str(error.value)
    assert str(repo / ".codeassist.toml") in message
    assert "'pth'" in message and "did you mean 'path'" in message


def test_unknown_section_is_an_error(repo):
    (repo / ".codeassist.toml").write_text("[modle]\npath = 1\n")
    with pytest.raises(UserError, match="unknown section 'modle'.*did you mean 'model'"):
        load_settings(repo=repo)


def test_wrong_type_names_key_and_expected_type(repo, isolated_dirs):
    user = write_user_config(isolated_dirs, '[completion]\nbudget_tokens = "many"\n')
    with pytest.raises(UserError) as error:
        load_settings(repo=repo)
    message = str(error.value)
    assert str(user) in message
    assert "'completion.budget_tokens' must be an integer" in message


def test_bool_is_not_accepted_for_an_integer(repo):
    (repo / ".codeassist.toml").write_text("[completion]\nbudget_tokens = true\n")
    with pytest.raises(UserError, match="budget_tokens.*integer"):
        load_settings(repo=repo)


def test_bad_env_value_names_the_variable(repo, monkeypatch):
    monkeypatch.setenv("CODEASSIST_DAEMON_QUEUE_SIZE", "lots")
    with pytest.raises(UserError, match="CODEASSIST_DAEMON_QUEUE_SIZE.*integer"):
        load_settings(repo=repo)


def test_malformed_toml_names_the_file(repo):
    (repo / ".codeassist.toml").write_text("[model\npath = \n")
    with pytest.raises(UserError, match=r"\.codeassist\.toml is not valid TOML"):
        load_settings(repo=repo)


def test_explicit_config_file_that_is_missing(repo, monkeypatch, tmp_path):
    monkeypatch.setenv("CODEASSIST_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(UserError, match="nope.toml does not exist"):
        load_settings(repo=repo)


def test_unreadable_config_file(repo, isolated_dirs):
    path = write_user_config(isolated_dirs, "[model]\n")
    path.write_bytes(b"\xff\xfe[model]\n")
    with pytest.raises(UserError, match="cannot be read"):
        load_settings(repo=repo)
