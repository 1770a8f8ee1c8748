"""llama.cpp's sources from the llama-cpp-python sdist (its converter, gguf-py and Google's
official Gemma 4 chat template), and running that converter.

The sdist is looked for in $CODEASSIST_LLAMA_CPP_SDIST (the .tar.gz or its unpacked folder),
then in the test-asset cache ($CODEASSIST_TEST_CACHE, default ~/.cache/codeassist-tests).
Put it there with:
    pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d ~/.cache/codeassist-tests
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

LLAMA_CPP_VERSION = "0.3.36"
# Read before the autouse fixture moves HOME into a temporary folder.
TEST_CACHE = Path(
    os.environ.get("CODEASSIST_TEST_CACHE") or Path.home() / ".cache" / "codeassist-tests"
)
SDIST_ENV = os.environ.get("CODEASSIST_LLAMA_CPP_SDIST", "")
DOWNLOAD_LINE = (
    f"pip download --no-deps --no-binary :all: llama-cpp-python=={LLAMA_CPP_VERSION} "
    f"-d {TEST_CACHE}"
)
INSTALL_LINE = (
    f'CMAKE_ARGS="-DLLAVA_BUILD=OFF" pip install "llama-cpp-python[server]=={LLAMA_CPP_VERSION}" '
    "(builds llama.cpp from source: about 25 minutes on 2 cores; or pip install "
    "'codeassist[llamacpp]')"
)


# ---- llama.cpp sources ---------------------------------------------------------------------


def _unpacked(archive: Path) -> Path:
    """The sdist's folder next to archive (unpacked once)."""
    name = archive.name.removesuffix(".tar.gz")
    target = archive.parent / name
    if not (target / "vendor" / "llama.cpp").is_dir():
        with tarfile.open(archive) as tar:
            tar.extractall(archive.parent, filter="data")
    return target


def find_llama_cpp_sources(download: bool = False) -> Path | None:
    """vendor/llama.cpp of the llama-cpp-python sdist, or None when it is not at hand."""
    candidates: list[Path] = []
    if SDIST_ENV:
        candidates.append(Path(SDIST_ENV))
    candidates += sorted(TEST_CACHE.glob("llama_cpp_python-*.tar.gz"), reverse=True)
    for candidate in candidates:
        if candidate.is_dir() and (candidate / "vendor" / "llama.cpp").is_dir():
            return candidate / "vendor" / "llama.cpp"
        if candidate.is_file() and candidate.name.endswith(".tar.gz"):
            return _unpacked(candidate) / "vendor" / "llama.cpp"
    if not download:
        return None
    TEST_CACHE.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    command += [f"llama-cpp-python=={LLAMA_CPP_VERSION}", "-d", str(TEST_CACHE)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        return None
    return find_llama_cpp_sources(download=False)


def llama_cpp_installed() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def convert_to_gguf(sources: Path, checkpoint: Path, out: Path, outtype: str = "f32") -> Path:
    """Run llama.cpp's own convert_hf_to_gguf.py on checkpoint, unmodified (about 20 s)."""
    # The converter puts its own gguf-py first on the path unless NO_LOCAL_GGUF is set.
    env = {key: value for key, value in os.environ.items() if key != "NO_LOCAL_GGUF"}
    command = [sys.executable, str(sources / "convert_hf_to_gguf.py"), str(checkpoint)]
    command += ["--outfile", str(out), "--outtype", outtype]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise AssertionError(f"convert_hf_to_gguf.py failed:\n{done.stderr[-3000:]}")
    return out


def checkpoint_digest(checkpoint: Path, sources: Path) -> str:
    """What a conversion depends on: every file of the checkpoint, and the converter's version."""
    digest = hashlib.sha256(str(sources.parent.parent.name).encode())
    for path in sorted(checkpoint.iterdir()):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def import_gguf(sources: Path) -> ModuleType:
    """llama.cpp's own gguf-py package (the sdist's copy; it is not installed)."""
    if "gguf" in sys.modules:
        return sys.modules["gguf"]
    package = sources / "gguf-py" / "gguf"
    spec = importlib.util.spec_from_file_location(
        "gguf", package / "__init__.py", submodule_search_locations=[str(package)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["gguf"] = module
    spec.loader.exec_module(module)
    return module
