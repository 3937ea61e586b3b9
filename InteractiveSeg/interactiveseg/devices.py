"""Choosing where to compute: cuda, then mps, then cpu; mixed precision on cuda only."""
from __future__ import annotations

import contextlib

import torch

from .errors import InputError


def pick_device(request: str = "auto") -> torch.device:
    if request == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if request == "cuda" and not torch.cuda.is_available():
        raise InputError("Device 'cuda' was requested but no CUDA GPU is available: use --device auto or cpu.")
    if request == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputError("Device 'mps' was requested but Apple's Metal backend is not available.")
    if request not in ("cpu", "cuda", "mps") and not request.startswith("cuda:"):
        raise InputError(f"Unknown device {request!r}: use auto, cpu, cuda or mps.")
    return torch.device(request)


def mixed_precision(device: torch.device):
    """bfloat16 autocast on cuda (no loss scaling needed); full precision elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower()
