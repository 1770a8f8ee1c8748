"""Gemma 4's special tokens and their ids in the released tokenizer (docs/prompt-format.md)."""

PAD = "<pad>"
EOS = "<eos>"
BOS = "<bos>"
UNK = "<unk>"
MASK = "<mask>"
TURN_OPEN = "<|turn>"
TURN_CLOSE = "<turn|>"
THINK = "<|think|>"
CHANNEL_OPEN = "<|channel>"
CHANNEL_CLOSE = "<channel|>"
TOOL_CALL_OPEN = "<|tool_call>"
TOOL_CALL_CLOSE = "<tool_call|>"
TOOL_RESPONSE_OPEN = "<|tool_response>"
TOOL_RESPONSE_CLOSE = "<tool_response|>"
TOOL_OPEN = "<|tool>"
TOOL_CLOSE = "<tool|>"
STRING_DELIM = '<|"|>'

# Ids of the released Gemma 4 tokenizer (vocabulary of 262,144). The tiny checkpoint puts
# every one of them at the same id, so ids in tests mean what they mean for the real model.
FIXED_IDS = {
    PAD: 0,
    EOS: 1,
    BOS: 2,
    UNK: 3,
    MASK: 4,
    TOOL_OPEN: 46,
    TOOL_CLOSE: 47,
    TOOL_CALL_OPEN: 48,
    TOOL_CALL_CLOSE: 49,
    TOOL_RESPONSE_OPEN: 50,
    TOOL_RESPONSE_CLOSE: 51,
    STRING_DELIM: 52,
    THINK: 98,
    CHANNEL_OPEN: 100,
    CHANNEL_CLOSE: 101,
    TURN_OPEN: 105,
    TURN_CLOSE: 106,
}

# "\n" is id 107; runs of up to 31 newlines are single tokens after it (ids 107-137).
NEWLINE_ID = 107
NEWLINE_RUNS = 31

# The control tokens that carry meaning besides <eos> and the turn markers.
OTHER_SPECIALS = [
    THINK,
    CHANNEL_OPEN,
    CHANNEL_CLOSE,
    TOOL_CALL_OPEN,
    TOOL_CALL_CLOSE,
    TOOL_RESPONSE_OPEN,
    TOOL_RESPONSE_CLOSE,
    TOOL_OPEN,
    TOOL_CLOSE,
    STRING_DELIM,
]

# Generation stops on any of these (the released generation_config: eos_token_id [1, 106, 50]).
STOP_TOKENS = [EOS, TURN_CLOSE, TOOL_RESPONSE_OPEN]

THOUGHT_OPEN = CHANNEL_OPEN + "thought\n"
EMPTY_THOUGHT = THOUGHT_OPEN + CHANNEL_CLOSE
