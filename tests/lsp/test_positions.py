"""Client positions <-> code points on lines with non-ASCII characters and emoji."""

from __future__ import annotations

from lsp.positions import UTF8, UTF16, UTF32, line_text, to_character, to_column

LINE = 'name = "Zoë 😀" + x'  # ë: 1 UTF-16 unit, 2 UTF-8 bytes; 😀: 2 units, 4 bytes


def test_utf16_counts_astral_characters_twice():
    x = LINE.index("x")
    assert to_character(LINE, x, UTF16) == x + 1  # one extra unit for the emoji
    assert to_column(LINE, x + 1, UTF16) == x


def test_utf8_counts_bytes():
    x = LINE.index("x")
    assert to_character(LINE, x, UTF8) == x + 1 + 3  # ë +1, 😀 +3
    assert to_column(LINE, x + 4, UTF8) == x


def test_utf32_is_code_points():
    assert to_character(LINE, 5, UTF32) == 5
    assert to_column(LINE, 5, UTF32) == 5


def test_round_trip_every_column_every_encoding():
    for encoding in (UTF8, UTF16, UTF32):
        for column in range(len(LINE) + 1):
            assert to_column(LINE, to_character(LINE, column, encoding), encoding) == column


def test_inside_a_character_rounds_down_and_past_the_end_clamps():
    emoji = LINE.index("😀")
    start = to_character(LINE, emoji, UTF16)
    assert to_column(LINE, start + 1, UTF16) == emoji  # half a surrogate pair
    assert to_column(LINE, 10_000, UTF16) == len(LINE)


def test_line_text():
    text = "a\r\nb😀\nc"
    assert line_text(text, 0) == "a"
    assert line_text(text, 1) == "b😀"
    assert line_text(text, 2) == "c"
    assert line_text(text, 3) is None
    assert line_text(text, -1) is None
    assert line_text("", 0) == ""
