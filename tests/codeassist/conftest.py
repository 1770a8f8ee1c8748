"""llama.cpp's sources (tests/helpers/llama_cpp.py) and the tiny checkpoint converted by them,
for the gemma4 format tests and the llama.cpp endpoint tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.llama_cpp import (
    DOWNLOAD_LINE,
    TEST_CACHE,
    checkpoint_digest,
    convert_to_gguf,
    find_llama_cpp_sources,
    llama_cpp_installed,
)


@pytest.fixture(scope="session")
def llama_cpp_sources() -> Path:
    """llama.cpp's sources (converter, gguf-py, templates); skips when they are not at hand.

    Where llama-cpp-python is installed its sdist is fetched from PyPI when missing, so that
    the backend tests run wherever the backend can.
    """
    sources = find_llama_cpp_sources(download=llama_cpp_installed())
    if sources is None:
        pytest.skip(f"needs the llama-cpp-python sdist: {DOWNLOAD_LINE}")
    return sources


@pytest.fixture(scope="session")
def official_template(llama_cpp_sources) -> str:
    """Google's Gemma 4 chat template as llama.cpp vendors it."""
    path = llama_cpp_sources / "models" / "templates" / "google-gemma-4-31B-it.jinja"
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def tiny_gguf(llama_cpp_sources, tiny_checkpoint) -> Path:
    """The tiny checkpoint converted to an f32 GGUF by llama.cpp's converter.

    Kept in the test cache under the digest of everything the conversion reads, so a run
    converts again exactly when the checkpoint (or the converter) changed.
    """
    out = (
        TEST_CACHE
        / "gguf"
        / f"tiny-f32-{checkpoint_digest(tiny_checkpoint, llama_cpp_sources)}.gguf"
    )
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_suffix(".partial")
        convert_to_gguf(llama_cpp_sources, tiny_checkpoint, partial)
        partial.rename(out)
    return out
