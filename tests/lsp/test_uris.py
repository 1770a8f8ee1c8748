"""Document URIs to file paths: `..` cannot hide where a file is; anything else is no path."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp.uris import uri_path


def test_dot_dot_segments_are_resolved_lexically():
    assert uri_path("file:///work/repo/../../etc/passwd") == Path("/etc/passwd")
    assert uri_path("file:///work/repo/./src/a.py") == Path("/work/repo/src/a.py")


@pytest.mark.parametrize("uri", ["untitled:Untitled-1", "git:/a.py", "file:///a%00b.py", 7, None])
def test_other_schemes_nul_bytes_and_non_strings_are_no_path(uri):
    assert uri_path(uri) is None
