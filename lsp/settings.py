"""Editor settings (initializationOptions, didChangeConfiguration) -> settings overrides.

Accepted shapes, all meaning the same: `{"completion": {"debounce_ms": 0}}` (config.toml
sections), `{"completion.debounce_ms": 0}` (dotted keys), either one wrapped in
`{"codeassist": ...}`, and camelCase keys (`debounceMs`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SECTION = "codeassist"
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake(name: str) -> str:
    """camelCase -> snake_case (snake_case is left alone)."""
    return _CAMEL.sub(r"_\1", name).lower()


def to_overrides(options: Any) -> dict[str, Any]:
    """Dotted "section.key" overrides from editor settings; None or {} gives {}.

    Raises ValueError naming the problem when the shape is not one of the accepted ones.
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValueError(
            f"settings must be an object like {{'completion': {{'debounce_ms': 60}}}}, "
            f"got {type(options).__name__}"
        )
    if set(options) == {SECTION}:
        return to_overrides(options[SECTION])
    overrides: dict[str, Any] = {}
    for key, value in options.items():
        if "." in key:
            section, _, name = key.partition(".")
            overrides[f"{snake(section)}.{snake(name)}"] = value
        elif isinstance(value, Mapping):
            for name, inner in value.items():
                overrides[f"{snake(key)}.{snake(name)}"] = inner
        else:
            raise ValueError(
                f"setting '{key}' needs a section: write it as '<section>.{key}' or inside "
                f"a section object such as {{'completion': {{'{key}': ...}}}}"
            )
    return overrides
