"""The tiny checkpoint converts with llama.cpp's own convert_hf_to_gguf.py, unmodified, and the
GGUF carries Gemma 4's vocabulary as llama.cpp's gemma4 tokenizer expects it."""

from __future__ import annotations

import pytest

from codeassist.gemma4.tiny import TINY_VOCAB, chat_template
from codeassist.gemma4.tokens import (
    BOS,
    CHANNEL_CLOSE,
    CHANNEL_OPEN,
    EOS,
    FIXED_IDS,
    NEWLINE_ID,
    STRING_DELIM,
    THINK,
    TOOL_CALL_OPEN,
    TURN_CLOSE,
    TURN_OPEN,
)
from tests.helpers.llama_cpp import import_gguf


@pytest.fixture(scope="module")
def gguf_fields(llama_cpp_sources, tiny_gguf):
    gguf = import_gguf(llama_cpp_sources)
    reader = gguf.GGUFReader(tiny_gguf)

    def value(name):
        return reader.fields[name].contents()

    return gguf, reader, value


def test_tiny_checkpoint_converts_to_a_gemma4_gguf(gguf_fields):
    _, reader, value = gguf_fields
    assert value("general.architecture") == "gemma4"
    assert value("tokenizer.ggml.model") == "gemma4"
    assert value("gemma4.context_length") == 32768
    embedding = next(x for x in reader.tensors if x.name == "token_embd.weight")
    assert list(embedding.shape) == [128, TINY_VOCAB]


def test_vocabulary_survives_conversion(gguf_fields):
    gguf, _, value = gguf_fields
    tokens = value("tokenizer.ggml.tokens")
    kinds = value("tokenizer.ggml.token_type")
    assert len(tokens) == TINY_VOCAB
    for token, index in FIXED_IDS.items():
        assert tokens[index] == token
    assert tokens[NEWLINE_ID] == "\n"
    assert value("tokenizer.ggml.bos_token_id") == FIXED_IDS[BOS]
    assert value("tokenizer.ggml.eos_token_id") == FIXED_IDS[EOS]
    assert value("tokenizer.ggml.add_bos_token") is True
    # Byte fallback tokens, control tokens, and the markers llama.cpp must always render.
    assert kinds[tokens.index("<0x41>")] == gguf.TokenType.BYTE
    for token in (BOS, EOS, TURN_OPEN, TURN_CLOSE, THINK):
        assert kinds[FIXED_IDS[token]] == gguf.TokenType.CONTROL, token
    for token in (CHANNEL_OPEN, CHANNEL_CLOSE, TOOL_CALL_OPEN, STRING_DELIM):
        assert kinds[FIXED_IDS[token]] == gguf.TokenType.USER_DEFINED, token
    assert len(value("tokenizer.ggml.merges")) > 500


def test_chat_template_travels_in_the_gguf(gguf_fields):
    _, _, value = gguf_fields
    assert value("tokenizer.chat_template") == chat_template()
