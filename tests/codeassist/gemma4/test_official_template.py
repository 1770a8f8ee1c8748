"""render_chat and the tiny checkpoint's template against Google's official Gemma 4 template.

The official template is read from the llama-cpp-python sdist (llama.cpp vendors it as
models/templates/google-gemma-4-31B-it.jinja) and rendered by transformers'
apply_chat_template, the code path a server running the real checkpoint uses.
"""

from __future__ import annotations

import itertools

import pytest

from codeassist.gemma4.prompt import render_chat

SYSTEMS = [None, "You review code.", "  \n Rules:\n- be brief\n\n", ""]
USERS = ["Is this right?", "\n\tdef f():\n    return 1\n  ", 'a  <|"|>  b']
HISTORIES = [
    [],
    [
        {"role": "assistant", "content": "<|channel>thought\nplan it<channel|>\nThe answer. "},
        {"role": "user", "content": " and then? "},
    ],
    [
        {"role": "model", "content": "first<|channel>thought\nnever closed"},
        {"role": "user", "content": "next"},
    ],
    [
        {"role": "assistant", "content": "part one"},
        {"role": "assistant", "content": " part <channel|>two "},
        {"role": "user", "content": "ok"},
    ],
]


def conversations():
    for system, user, history in itertools.product(SYSTEMS, USERS, HISTORIES):
        messages = [] if system is None else [{"role": "system", "content": system}]
        messages.append({"role": "user", "content": user})
        yield messages + history
    yield [{"role": "developer", "content": " dev rules "}, {"role": "user", "content": "x"}]


@pytest.fixture(scope="module")
def tokenizer(tiny_checkpoint):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_checkpoint)


@pytest.mark.parametrize("thinking", [False, True])
def test_render_chat_and_the_tiny_template_render_what_the_official_template_renders(
    tokenizer, official_template, thinking
):
    checked = 0
    for messages in conversations():
        for generation in (True, False):
            official = tokenizer.apply_chat_template(
                messages,
                chat_template=official_template,
                tokenize=False,
                add_generation_prompt=generation,
                enable_thinking=thinking,
            )
            ours = render_chat(messages, enable_thinking=thinking, add_generation_prompt=generation)
            tiny = tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=generation, enable_thinking=thinking
            )
            assert ours == official, messages
            assert tiny == official, messages
            checked += 1
    assert checked == 2 * (len(SYSTEMS) * len(USERS) * len(HISTORIES) + 1)


def test_thinking_unset_is_thinking_off(tokenizer, official_template):
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    official = tokenizer.apply_chat_template(
        messages, chat_template=official_template, tokenize=False, add_generation_prompt=True
    )
    assert official == render_chat(messages)
    assert official.endswith("<|turn>model\n<|channel>thought\n<channel|>")


def test_the_facts_docs_state_hold_for_the_official_template(tokenizer, official_template):
    """docs/prompt-format.md quotes these; the template is the authority."""

    def official(messages, **kwargs):
        return tokenizer.apply_chat_template(
            messages, chat_template=official_template, tokenize=False, **kwargs
        )

    on = official(
        [{"role": "system", "content": " S "}, {"role": "user", "content": " U "}],
        add_generation_prompt=True,
        enable_thinking=True,
    )
    assert on == "<bos><|turn>system\n<|think|>\nS<turn|>\n<|turn>user\nU<turn|>\n<|turn>model\n"
    off = official([{"role": "user", "content": "U"}], add_generation_prompt=True)
    assert off == "<bos><|turn>user\nU<turn|>\n<|turn>model\n<|channel>thought\n<channel|>"
    history = official(
        [
            {"role": "user", "content": "U"},
            {"role": "assistant", "content": "<|channel>thought\nT<channel|>A"},
        ]
    )
    assert history.endswith("<|turn>model\nA<turn|>\n")
