"""parse_size: one meaning for memory sizes (GB = 10^9, GiB = 2^30)."""

from __future__ import annotations

import pytest

from codeassist.errors import UserError
from codeassist.sizes import parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("24GB", 24 * 10**9),
        ("24gb", 24 * 10**9),
        ("24GiB", 24 * 2**30),
        ("24 GiB", 24 * 2**30),
        ("24G", 24 * 2**30),
        ("16000MiB", 16000 * 2**20),
        ("1.5TiB", int(1.5 * 2**40)),
        ("1KB", 1000),
        ("4096", 4096),
        ("4096B", 4096),
    ],
)
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "GiB", "24XB", "24GiBB", "-1GB", "lots"])
def test_what_is_not_a_size_names_the_text(text):
    with pytest.raises(UserError, match="is not a memory size"):
        parse_size(text)
