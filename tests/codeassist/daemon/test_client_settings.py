"""client_from_settings: which endpoint a configuration gives (no server needed)."""

from __future__ import annotations

import pytest

from codeassist.client import client_from_settings
from codeassist.config import load_settings
from codeassist.errors import UserError
from codeassist.paths import default_socket_path


def test_daemon_is_the_default_endpoint():
    client = client_from_settings(load_settings())
    assert client.endpoint.is_daemon
    assert client.endpoint.socket_path == str(default_socket_path())
    assert "codeassist daemon start" in client.endpoint.fix


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1"),
        ("http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/v1"),
        ("https://vllm.internal/openai/v1", "https://vllm.internal/openai/v1"),
    ],
)
def test_openai_compatible_base_urls(given, base):
    overrides = {"model.endpoint": given, "model.api_key": "k", "model.allow_remote": True}
    settings = load_settings(overrides=overrides)
    client = client_from_settings(settings)
    assert not client.endpoint.is_daemon
    assert client.endpoint.base_url == base
    assert client.endpoint.api_key == "k"


def test_a_bad_endpoint_names_the_setting_and_its_source(monkeypatch):
    monkeypatch.setenv("CODEASSIST_MODEL_ENDPOINT", "ftp://example")
    with pytest.raises(UserError) as bad:
        client_from_settings(load_settings())
    assert "ftp://example" in str(bad.value) and "CODEASSIST_MODEL_ENDPOINT" in str(bad.value)


def test_priority_is_checked():
    client = client_from_settings(load_settings())
    with pytest.raises(ValueError):
        client.chat([{"role": "user", "content": "x"}], priority="urgent")


def test_a_remote_endpoint_needs_the_users_consent():
    with pytest.raises(UserError) as refused:
        client_from_settings(load_settings(overrides={"model.endpoint": "https://x.example/v1"}))
    assert "allow_remote" in str(refused.value)
    local = client_from_settings(load_settings(overrides={"model.endpoint": "http://[::1]:9/v1"}))
    assert local.endpoint.base_url == "http://[::1]:9/v1"


def test_the_fix_names_where_the_endpoint_was_set_once(monkeypatch):
    monkeypatch.setenv("CODEASSIST_MODEL_ENDPOINT", "http://127.0.0.1:9/v1")
    fix = client_from_settings(load_settings()).endpoint.fix
    assert fix.count("CODEASSIST_MODEL_ENDPOINT") == 1
    flag = load_settings(overrides={"model.endpoint": "http://127.0.0.1:9/v1"})
    assert "CODEASSIST_MODEL_ENDPOINT" in client_from_settings(flag).endpoint.fix
