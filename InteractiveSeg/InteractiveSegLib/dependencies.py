"""Python packages the engine needs inside Slicer, installed on first use after asking.

Slicer ships numpy and SimpleITK. PyTorch comes through the PyTorch extension (it picks
the build that matches the GPU driver); safetensors is a small pip package. Nothing else
is downloaded. This file imports neither torch nor the engine, so it works before they exist.
"""
from __future__ import annotations

import importlib.util

TORCH_REQUIREMENT = ">=2.1"
PIP_PACKAGES = {"safetensors": "safetensors>=0.4"}  # import name: pip requirement


class DependencyError(RuntimeError):
    """A package could not be installed; the message says what to do."""


def missing(is_installed=lambda name: importlib.util.find_spec(name) is not None) -> list:
    """Import names of the required packages that are not installed."""
    return [name for name in ("torch", *PIP_PACKAGES) if not is_installed(name)]


def ensure(confirm, pip_install, torch_utils=None, is_installed=None) -> None:
    """Install what is missing; `confirm(text) -> bool` asks the user first.

    `pip_install(requirement)` is Slicer's pip (slicer.util.pip_install); `torch_utils` is
    the PyTorch extension's PyTorchUtilsLogic, looked up when torch is missing.
    """
    todo = missing(is_installed) if is_installed else missing()
    if not todo:
        return
    text = ("InteractiveSeg needs these Python packages, which are not installed yet: "
            f"{', '.join(todo)}. Download and install them now? PyTorch is a large download "
            "and may take several minutes.")
    if not confirm(text):
        raise DependencyError(f"InteractiveSeg cannot run without {', '.join(todo)}: installation was declined.")
    if "torch" in todo:
        _install_torch(torch_utils if torch_utils is not None else _torch_utils_logic())
    for name in todo:
        if name in PIP_PACKAGES:
            try:
                pip_install(PIP_PACKAGES[name])
            except Exception as error:
                raise DependencyError(f"Installing {PIP_PACKAGES[name]} failed ({error}). Check the network "
                                      "connection, or install it from the Python console with "
                                      f"slicer.util.pip_install('{PIP_PACKAGES[name]}').") from None


def _torch_utils_logic():
    try:
        import PyTorchUtils
    except ImportError:
        raise DependencyError("InteractiveSeg needs the PyTorch extension: install 'PyTorch' from the "
                              "Extensions Manager, restart Slicer, and try again.") from None
    return PyTorchUtils.PyTorchUtilsLogic()


def _install_torch(torch_utils) -> None:
    try:
        torch = torch_utils.installTorch(askConfirmation=False, torchVersionRequirement=TORCH_REQUIREMENT)
    except Exception as error:
        raise DependencyError(f"Installing PyTorch failed ({error}). Check the network connection, or "
                              "install it with the 'PyTorch Util' module.") from None
    if torch is None:
        raise DependencyError("PyTorch was not installed. Install it with the 'PyTorch Util' module, "
                              "then try again.")
