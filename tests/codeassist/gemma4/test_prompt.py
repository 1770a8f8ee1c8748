"""Gemma 4's turn format and the thinking parser, against the exact strings Google's official
template renders (docs/prompt-format.md; test_official_template.py renders the official
template itself when the llama-cpp-python sdist is at hand)."""

from __future__ import annotations

import pytest

from codeassist.gemma4.prompt import ThinkingParser, render_chat, split_thinking, strip_thinking

MESSAGES = [
    {"role": "system", "content": "You review code."},
    {"role": "user", "content": "Is this right?"},
]


def test_thinking_off_appends_an_empty_thought_to_the_generation_prompt():
    assert render_chat(MESSAGES) == (
        "<bos><|turn>system\nYou review code.<turn|>\n"
        "<|turn>user\nIs this right?<turn|>\n"
        "<|turn>model\n<|channel>thought\n<channel|>"
    )


def test_thinking_on_puts_think_and_a_newline_at_the_top_of_the_system_turn():
    assert render_chat(MESSAGES, enable_thinking=True) == (
        "<bos><|turn>system\n<|think|>\nYou review code.<turn|>\n"
        "<|turn>user\nIs this right?<turn|>\n"
        "<|turn>model\n"
    )


def test_thinking_on_without_a_system_message_opens_a_system_turn():
    assert render_chat([{"role": "user", "content": "hi"}], enable_thinking=True) == (
        "<bos><|turn>system\n<|think|>\n<turn|>\n<|turn>user\nhi<turn|>\n<|turn>model\n"
    )


def test_system_user_and_model_contents_are_trimmed():
    messages = [
        {"role": "system", "content": "  You review code.\n\n"},
        {"role": "user", "content": "\n\tIs this right?  "},
        {"role": "assistant", "content": " Yes. \n"},
        {"role": "user", "content": "  def f():\n    pass\n"},
    ]
    assert render_chat(messages) == (
        "<bos><|turn>system\nYou review code.<turn|>\n"
        "<|turn>user\nIs this right?<turn|>\n"
        "<|turn>model\nYes.<turn|>\n"
        "<|turn>user\ndef f():\n    pass<turn|>\n"
        "<|turn>model\n<|channel>thought\n<channel|>"
    )


def test_developer_message_first_is_the_system_turn():
    text = render_chat(
        [{"role": "developer", "content": "rules"}, {"role": "user", "content": "x"}]
    )
    assert text.startswith("<bos><|turn>system\nrules<turn|>\n<|turn>user\nx<turn|>\n")


def test_no_generation_prompt_ends_after_the_last_turn():
    assert render_chat(MESSAGES, add_generation_prompt=False).endswith("Is this right?<turn|>\n")
    with pytest.raises(ValueError, match="model_prefix"):
        render_chat(MESSAGES, add_generation_prompt=False, model_prefix="x")


def test_a_second_assistant_message_continues_the_model_turn():
    # What the official template does (its tool-call flow): no new "<|turn>model".
    history = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "one"},
        {"role": "assistant", "content": "two"},
    ]
    assert render_chat(history, add_generation_prompt=False) == (
        "<bos><|turn>user\na<turn|>\n<|turn>model\none<turn|>\ntwo<turn|>\n"
    )


def test_no_messages_and_misplaced_system_are_refused():
    with pytest.raises(ValueError, match="at least one message"):
        render_chat([])
    with pytest.raises(ValueError, match="system"):
        render_chat([{"role": "user", "content": "a"}, {"role": "system", "content": "b"}])


def test_earlier_model_turns_lose_their_thoughts():
    history = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "<|channel>thought\nsecret plan<channel|>\nanswer "},
        {"role": "user", "content": "b"},
        {"role": "model", "content": "second<|channel>thought\nnever closed"},
        {"role": "user", "content": "c"},
    ]
    text = render_chat(history)
    assert "secret plan" not in text and "never closed" not in text
    assert "<|turn>model\nanswer<turn|>\n" in text
    assert "<|turn>model\nsecond<turn|>\n" in text


def test_model_prefix_is_written_into_the_model_turn():
    text = render_chat([{"role": "user", "content": "go"}], model_prefix="def f(")
    assert text.endswith("<|turn>model\n<|channel>thought\n<channel|>def f(")


def test_unknown_role_is_refused():
    with pytest.raises(ValueError, match="tool"):
        render_chat([{"role": "tool", "content": "x"}])


def test_split_thinking_separates_thought_from_answer():
    thinking, answer = split_thinking(
        "<|channel>thought\nweigh options<channel|>The answer.<turn|>"
    )
    assert thinking == "weigh options"
    assert answer == "The answer."


def test_unclosed_thought_is_all_thinking():
    assert split_thinking("<|channel>thought\nstill going") == ("still going", "")


def test_streamed_markers_split_across_pieces():
    text = "<|channel>thought\nhmm<channel|>x = 1<turn|>"
    for cut in range(1, len(text)):
        parser = ThinkingParser()
        pieces = parser.feed(text[:cut]) + parser.feed(text[cut:]) + parser.finish()
        thinking = "".join(p.text for p in pieces if p.kind == "thinking")
        answer = "".join(p.text for p in pieces if p.kind == "answer")
        assert (thinking, answer) == ("hmm", "x = 1"), cut


def test_answer_without_thought_passes_through_with_angle_brackets():
    assert split_thinking("if a < b and c <| d: pass") == ("", "if a < b and c <| d: pass")


def test_strip_thinking_removes_every_block():
    assert strip_thinking("<|channel>a<channel|>x<|channel>b<channel|>y") == "xy"


def test_strip_thinking_drops_an_unclosed_block_and_a_stray_closer():
    assert strip_thinking("x<|channel>thought\nstill") == "x"
    assert strip_thinking("a<channel|>b") == "ab"
