"""Which exceptions mean "the device ran out of memory", whatever library raised them.

PyTorch raises torch.OutOfMemoryError for its own allocator, but a CUDA library that allocates
for itself fails differently: cuBLAS and cuBLASLt as a RuntimeError naming
CUBLAS_STATUS_ALLOC_FAILED (or, when even its handle cannot be created, ..._NOT_INITIALIZED),
cuDNN with CUDNN_STATUS_ALLOC_FAILED (or CUDNN_STATUS_NOT_INITIALIZED), a kernel launch with
"CUDA error: out of memory" (torch.AcceleratorError), HIP with hipErrorOutOfMemory, and the CPU
allocator with "can't allocate memory" or a plain MemoryError. All of them mean the same thing to
the engine: free the request, keep everything else.
"""

from __future__ import annotations

import torch

MARKERS = (
    "out of memory",
    "can't allocate memory",
    "cublas_status_alloc_failed",
    "cublas_status_not_initialized",
    "cudnn_status_alloc_failed",
    "cudnn_status_not_initialized",
    "cudaerrormemoryallocation",
    "hiperroroutofmemory",
)


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, torch.OutOfMemoryError | MemoryError):
        return True
    text = str(error).lower()
    return any(marker in text for marker in MARKERS)
