"""The one parser of memory sizes in settings and flags (`[engine] gpu_memory`, `--gpu-memory`).

Units mean what the standards say: `GiB`, `MiB`, ... are powers of 1024 and `GB`, `MB`, ...
powers of 1000, so "24GB" is 24e9 bytes and "24GiB" is 24 * 2**30. A bare letter ("24G") is
read as binary, as `free -g`, `ls -h` and GPU tools print it.
"""

from __future__ import annotations

import re

from codeassist.errors import UserError

_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(?:([KMGT])(i?)(B?)|B?)\s*", re.I)
_POWER = {"K": 1, "M": 2, "G": 3, "T": 4}


def parse_size(text: str) -> int:
    """Bytes in '24GiB', '24GB', '24G', '16000MiB', '1.5TiB' or a plain number of bytes.

    UserError (naming the text and the accepted forms) for anything else.
    """
    match = _SIZE.fullmatch(text or "")
    if match is None:
        raise UserError(f"'{text}' is not a memory size; write it like 24GiB, 24GB or 16000MiB.")
    number, letter, binary, byte_sign = (
        float(match.group(1)),
        match.group(2),
        match.group(3),
        match.group(4),
    )
    if not letter:
        return int(number)
    base = 1000 if byte_sign and not binary else 1024
    return int(number * base ** _POWER[letter.upper()])
