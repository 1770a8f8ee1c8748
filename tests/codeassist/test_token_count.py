"""token_counter: the model's tokenizer when configured, else an estimate on the safe side."""

from __future__ import annotations

import pytest

from codeassist.config import load_settings
from codeassist.token_count import count_utf8_bytes, describe_counter, token_counter
from retrieval.tokens import estimate_tokens

SAMPLES = [
    "def add(a, b):\n    return a + b\n",
    "x = 1234567890123456789 * 98765432109876543210\n",
    "naïve = 'ünïcödé 漢字テキスト 🙂🙂🙂'\n",
    "\t\t\t    \n\n\n" + " " * 300 + "end\n",
    "qzxj_vkwp_frmb_tlyd = hjkq(xzvw, qqqq)\n",
]


def test_the_checkpoint_tokenizer_counts_whatever_the_endpoint(tmp_path, tiny_checkpoint):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tiny_checkpoint / "tokenizer.json"))
    for endpoint in ("daemon", "http://127.0.0.1:9/v1"):
        settings = load_settings(
            repo=tmp_path,
            overrides={"model.path": str(tiny_checkpoint), "model.endpoint": endpoint},
        )
        count = token_counter(settings)
        for text in SAMPLES:
            assert count(text) == len(tokenizer.encode(text, add_special_tokens=False).ids)
        assert "tokenizer.json" in describe_counter(settings)


def test_a_lone_surrogate_is_counted_not_raised(tmp_path, tiny_checkpoint):
    settings = load_settings(repo=tmp_path, overrides={"model.path": str(tiny_checkpoint)})
    assert token_counter(settings)("a = '\ud800'\n") > 0
    assert count_utf8_bytes("\ud800") == 3


def test_the_daemon_without_a_checkpoint_uses_the_estimate(tmp_path):
    assert token_counter(load_settings(repo=tmp_path)) is estimate_tokens


def test_an_external_endpoint_without_a_tokenizer_never_under_counts(tmp_path, tiny_checkpoint):
    from tokenizers import Tokenizer

    settings = load_settings(repo=tmp_path, overrides={"model.endpoint": "http://127.0.0.1:9/v1"})
    count = token_counter(settings)
    assert count is count_utf8_bytes
    tokenizer = Tokenizer.from_file(str(tiny_checkpoint / "tokenizer.json"))
    for text in SAMPLES:
        exact = len(tokenizer.encode(text, add_special_tokens=False).ids)
        assert count(text) >= exact
        assert count(text) >= estimate_tokens(text)
    # The estimate alone would under-count digits for a tokenizer that splits them one by one.
    assert estimate_tokens("1234567890123456") < 16 <= count("1234567890123456")


@pytest.mark.parametrize("broken", ["", "not json"])
def test_a_missing_or_broken_tokenizer_falls_back(tmp_path, broken):
    model = tmp_path / "model"
    model.mkdir()
    if broken:
        (model / "tokenizer.json").write_text(broken)
    settings = load_settings(repo=tmp_path, overrides={"model.path": str(model)})
    assert token_counter(settings) is estimate_tokens
