"""Triton kernels for the 4-bit layers, and the one rule that decides when they run.

They run on CUDA when Triton is importable; everywhere else the layers use their pure-torch
path (which `torch.compile` traces). Tests run the kernels on the CPU under TRITON_INTERPRET=1.
"""

from __future__ import annotations

import os

import torch

BACKENDS = ("auto", "triton", "torch")
# up to this many input rows a dense 4-bit/8-bit layer runs its Triton kernel (every weight read
# once for all rows); more rows (prefill) dequantize and use the dense matmul
GEMV_ROWS = 16


def _triton_importable() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


# decided once at import: the layers' forward (traced by torch.compile) only reads a constant
TRITON = _triton_importable()


def interpreting() -> bool:
    """True when Triton kernels run on the CPU through its interpreter (tests)."""
    return os.environ.get("TRITON_INTERPRET") == "1"


def use_triton(backend: str, x: torch.Tensor) -> bool:
    """Whether a 4-bit layer runs its Triton kernels for input x ("auto": on CUDA only)."""
    if backend == "torch":
        return False
    if backend == "triton":
        if not TRITON or not (x.is_cuda or interpreting()):
            raise RuntimeError("the Triton backend needs CUDA (or TRITON_INTERPRET=1) and triton")
        return True
    if backend != "auto":
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    return x.is_cuda and TRITON
