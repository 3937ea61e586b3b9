"""The background task, and installing torch and safetensors on first use."""
import threading

import pytest

from interactiveseg import Cancelled
from InteractiveSegLib import dependencies
from InteractiveSegLib.worker import BackgroundTask


def test_task_runs_off_the_calling_thread_and_reports_progress():
    callers = []

    def work(progress, cancel):
        callers.append(threading.current_thread())
        progress(0.5, "halfway")
        return 42

    task = BackgroundTask(work)
    assert not task.done
    task.start()
    assert task.wait(5) and task.done
    assert task.result == 42 and task.error is None
    assert task.progress == (0.5, "halfway")
    assert callers and callers[0] is not threading.current_thread()


def test_cancel_reaches_the_work_within_a_second():
    started = threading.Event()

    def work(progress, cancel):
        started.set()
        while not cancel():
            threading.Event().wait(0.01)
        raise Cancelled("stopped")

    task = BackgroundTask(work).start()
    assert started.wait(5)
    task.cancel()
    assert task.wait(1.0)
    assert isinstance(task.error, Cancelled) and task.cancelled


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
