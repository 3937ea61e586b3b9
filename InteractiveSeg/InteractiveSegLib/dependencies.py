"""Python packages the engine needs inside Slicer, installed on first use after asking.

Slicer ships numpy and SimpleITK. PyTorch comes through the PyTorch extension (it picks
the build that matches the GPU driver); safetensors is a small pip package. Nothing else
is downloaded. This file imports neither torch nor the engine, so it works before they exist.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util

TORCH_REQUIREMENT = ">=2.1"
PIP_PACKAGES = {"safetensors": "safetensors>=0.4"}  # import name: pip requirement


class DependencyError(RuntimeError):
    """A package could not be installed; the message says what to do."""


def torch_too_old(version: str | None = None) -> bool:
    """True when the installed torch is older than TORCH_REQUIREMENT (read from its metadata, not imported)."""
    if version is None:
        try:
            version = importlib.metadata.version("torch")
        except importlib.metadata.PackageNotFoundError:
            return False
    wanted = tuple(int(p) for p in TORCH_REQUIREMENT.lstrip(">=").split("."))
    have = []
    for part in version.split("+")[0].split(".")[:len(wanted)]:
        digits = "".join(c for c in part if c.isdigit())
        have.append(int(digits) if digits else 0)
    return tuple(have) < wanted


def missing(is_installed=lambda name: importlib.util.find_spec(name) is not None, torch_version=None) -> list:
    """Import names of the required packages that are not installed (or, for torch, too old)."""
    names = [name for name in ("torch", *PIP_PACKAGES) if not is_installed(name)]
    if "torch" not in names and torch_too_old(torch_version):
        names.insert(0, "torch")
    return names


def ensure(confirm, pip_install, torch_utils=None, is_installed=None) -> None:
    """Install what is missing; `confirm(text) -> bool` asks the user first.

    `pip_install(requirement)` is Slicer's pip (slicer.util.pip_install); `torch_utils` is
    the PyTorch extension's PyTorchUtilsLogic, looked up when torch is missing.
    """
    todo = missing(is_installed) if is_installed else missing()
    if not todo:
        return
    old = "torch" in todo and torch_too_old()
    text = ((f"The installed PyTorch is older than {TORCH_REQUIREMENT.lstrip('>=')}, which InteractiveSeg "
             "needs. " if old else "") +
            f"InteractiveSeg needs these Python packages: {', '.join(todo)}. Download and install them now? "
            "PyTorch is a large download and may take several minutes.")
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
    if torch_too_old(getattr(torch, "__version__", None)):
        raise DependencyError(f"PyTorch {torch.__version__} is older than {TORCH_REQUIREMENT.lstrip('>=')}: "
                              "update it with the 'PyTorch Util' module, restart Slicer, and try again.")
