"""Installing torch and safetensors on first use."""
import pytest

from InteractiveSegLib import dependencies


def test_nothing_missing_means_no_question():
    asked = []
    dependencies.ensure(confirm=asked.append, pip_install=asked.append)
    assert dependencies.missing() == [] and asked == []


class PyTorchUtilsThatFails:
    def installTorch(self, askConfirmation, torchVersionRequirement):
        assert askConfirmation is False  # InteractiveSeg already asked the user
        return None


def test_missing_torch_asks_first_and_explains_failure():
    questions, installed = [], []
    missing_torch = lambda name: name != "torch"
    with pytest.raises(dependencies.DependencyError, match="declined"):
        dependencies.ensure(lambda text: questions.append(text) or False, installed.append,
                            PyTorchUtilsThatFails(), missing_torch)
    assert "torch" in questions[0] and installed == []
    with pytest.raises(dependencies.DependencyError, match="PyTorch Util"):
        dependencies.ensure(lambda text: True, installed.append, PyTorchUtilsThatFails(), missing_torch)


def test_missing_pip_package_is_installed_after_asking():
    installed = []
    dependencies.ensure(lambda text: True, installed.append, None, lambda name: name != "safetensors")
    assert installed == ["safetensors>=0.4"]

    def offline(requirement):
        raise OSError("no network")
    with pytest.raises(dependencies.DependencyError, match="network"):
        dependencies.ensure(lambda text: True, offline, None, lambda name: name != "safetensors")


def test_missing_pytorch_extension_says_where_to_get_it():
    with pytest.raises(dependencies.DependencyError, match="Extensions Manager"):
        dependencies.ensure(lambda text: True, lambda r: None, None, lambda name: name != "torch")


def test_what_the_panel_uses_before_torch_is_installed_imports_without_torch():
    """Error display, Clear and the logic must work when torch is missing, declined or broken."""
    import subprocess
    import sys
    from pathlib import Path
    code = ("import sys; sys.modules['torch'] = None  # any 'import torch' now fails\n"
            "from interactiveseg.errors import InteractiveSegError\n"
            "from interactiveseg import InputError, Box, Settings\n"
            "import InteractiveSegLib.logic, InteractiveSegLib.scribbles, InteractiveSegLib.round_runner\n"
            "import InteractiveSegLib.dependencies, InteractiveSegLib.guidance, InteractiveSegLib.module_nodes\n"
            "print('ok')\n")
    module = Path(__file__).resolve().parents[2] / "InteractiveSeg"
    done = subprocess.run([sys.executable, "-c", code], cwd=module, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_a_torch_older_than_required_is_refused_not_used():
    assert dependencies.torch_too_old("1.13.1+cu117") and dependencies.torch_too_old("2.0.1")
    assert not dependencies.torch_too_old("2.13.0+cpu") and not dependencies.torch_too_old("2.1.0")
    assert dependencies.missing(lambda name: True, torch_version="1.12.0") == ["torch"]
    assert dependencies.missing(lambda name: True, torch_version="2.13.0") == []
