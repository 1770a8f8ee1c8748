"""Gemma 4's special tokens. Ids are those of the released tokenizer where GEMMA4.md states them."""

PAD = "<pad>"
EOS = "<eos>"
BOS = "<bos>"
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

# Fixed ids (GEMMA4.md): <pad>=0, <eos>=1, <bos>=2, <|turn>=105, <turn|>=106.
FIXED_IDS = {PAD: 0, EOS: 1, BOS: 2, TURN_OPEN: 105, TURN_CLOSE: 106}

# The rest of the control tokens, in the order the tiny tokenizer assigns them after 106.
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

# Generation stops on any of these (GEMMA4.md).
STOP_TOKENS = [EOS, TURN_CLOSE, TOOL_RESPONSE_OPEN]

THOUGHT_OPEN = CHANNEL_OPEN + "thought\n"
EMPTY_THOUGHT = THOUGHT_OPEN + CHANNEL_CLOSE
