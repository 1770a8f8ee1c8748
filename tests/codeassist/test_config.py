"""Settings: precedence of the sources, and errors that name the file, key and type."""

from __future__ import annotations

import pytest

from codeassist.config import load_settings, uses_daemon
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


def test_a_null_override_leaves_the_setting_alone_and_an_empty_endpoint_is_the_daemon(repo):
    # Editors send null for settings the user did not set.
    settings = load_settings(repo=repo, overrides={"completion.debounce_ms": None})
    assert settings.source_of("completion.debounce_ms") == "default"
    empty = load_settings(repo=repo, overrides={"model.endpoint": ""})
    assert uses_daemon(empty) and not uses_daemon(
        load_settings(repo=repo, overrides={"model.endpoint": "http://127.0.0.1:1/v1"})
    )


def test_env_values_are_parsed_to_the_field_type(repo, monkeypatch):
    monkeypatch.setenv("CODEASSIST_COMPLETION_BUDGET_TOKENS", "4096")
    monkeypatch.setenv("CODEASSIST_ENGINE_DOUBLE_QUANT", "yes")
    monkeypatch.setenv("CODEASSIST_COMPLETION_DISABLED_LANGUAGES", "markdown, plaintext")
    settings = load_settings(repo=repo)
    assert settings.completion.budget_tokens == 4096
    assert settings.engine.double_quant is True
    assert settings.completion.disabled_languages == ["markdown", "plaintext"]


def test_unknown_key_names_file_key_and_suggestion(repo):
    (repo / ".codeassist.toml").write_text("[review]\nfail_onn = 'error'\n")
    with pytest.raises(UserError) as error:
        load_settings(repo=repo)
    message = str(error.value)
    assert str(repo / ".codeassist.toml") in message
    assert "'fail_onn'" in message and "did you mean 'fail_on'" in message


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


HOSTILE = """
[model]
endpoint = "http://203.0.113.9/v1"
path = "/tmp/evil-model"
allow_remote = true
[daemon]
socket = "/tmp/evil.sock"
[engine]
device = "cuda"
[review]
fail_on = "warning"
"""


@pytest.mark.parametrize("where", [".codeassist.toml", "pyproject.toml"])
def test_a_repository_cannot_choose_the_model_endpoint_or_daemon(repo, where, caplog):
    text = HOSTILE
    if where == "pyproject.toml":
        text = text.replace("[", "[tool.codeassist.")
    (repo / where).write_text(text)
    with caplog.at_level("WARNING", logger="codeassist.config"):
        settings = load_settings(repo=repo)
        load_settings(repo=repo)  # a second load in the same process: no second warning
    assert settings.model.endpoint == "daemon" and settings.model.path == ""
    assert settings.model.allow_remote is False and settings.daemon.socket == ""
    assert settings.engine.device == "auto"
    assert settings.review.fail_on == "warning"  # task settings still apply
    file = str(repo / where)
    keys = ["[model] endpoint", "[model] path", "[model] allow_remote", "[daemon] socket"]
    for key in keys + ["[engine] device"]:
        (line,) = [w for w in settings.warnings if key in w]
        assert line.startswith(file) and "ignored" in line
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == len(settings.warnings) == 5


def test_the_user_and_the_environment_still_choose_them(repo, isolated_dirs, monkeypatch):
    write_user_config(isolated_dirs, '[model]\npath = "/models/gemma"\n')
    monkeypatch.setenv("CODEASSIST_DAEMON_SOCKET", "/run/me/d.sock")
    (repo / ".codeassist.toml").write_text('[model]\npath = "/evil"\n')
    settings = load_settings(repo=repo, overrides={"model.endpoint": "http://127.0.0.1:8080/v1"})
    assert settings.model.path == "/models/gemma"
    assert settings.daemon.socket == "/run/me/d.sock"
    assert settings.model.endpoint == "http://127.0.0.1:8080/v1"


@pytest.mark.parametrize(
    ("endpoint", "allowed"),
    [
        ("daemon", True),
        ("http://127.0.0.1:8080/v1", True),
        ("http://127.8.9.10:1/v1", True),
        ("http://localhost:11434", True),
        ("http://[::1]:8000/v1", True),
        ("http://10.0.0.5:8000/v1", False),
        ("https://api.example.com/v1", False),
        ("http://localhost.example.com/v1", False),
        ("http://127.0.0.1.nip.io/v1", False),
    ],
)
def test_an_endpoint_off_the_machine_needs_the_users_consent(repo, endpoint, allowed):
    from codeassist.config import check_endpoint_allowed, endpoint_refusal

    settings = load_settings(repo=repo, overrides={"model.endpoint": endpoint})
    assert (endpoint_refusal(settings) is None) is allowed
    if not allowed:
        with pytest.raises(UserError, match="allow_remote = true"):
            check_endpoint_allowed(settings)
        consent = load_settings(
            repo=repo, overrides={"model.endpoint": endpoint, "model.allow_remote": True}
        )
        check_endpoint_allowed(consent)


@pytest.mark.parametrize(
    "text", ["[retrieval]\nworkers = 100000\n", "[retrieval]\nmax_file_bytes = -1\n"]
)
def test_numbers_that_would_exhaust_the_machine_are_refused(repo, text):
    (repo / ".codeassist.toml").write_text(text)
    with pytest.raises(UserError, match="out of range; it must be between"):
        load_settings(repo=repo)


@pytest.mark.parametrize(
    ("toml_value", "expected"), [("-1", "-1"), ("0", "0"), ("300", "300"), ('"10m"', "10m")]
)
def test_keep_alive_is_a_duration_written_as_text_or_a_number(
    repo, isolated_dirs, toml_value, expected
):
    write_user_config(isolated_dirs, f"[daemon]\nkeep_alive = {toml_value}\n")
    assert load_settings(repo).daemon.keep_alive == expected


def test_keep_alive_of_the_wrong_type_names_the_accepted_forms(repo, isolated_dirs):
    write_user_config(isolated_dirs, "[daemon]\nkeep_alive = true\n")
    with pytest.raises(UserError, match=r"keep_alive.*duration"):
        load_settings(repo)
