"""A failure in the server's background updates is said on the page and does not end the updates."""
from types import SimpleNamespace

from interactiveseg_web.app import WebController


def test_a_failing_background_step_is_reported_and_the_task_goes_on():
    controller = SimpleNamespace(workflow=SimpleNamespace(status=None))

    def broken():
        raise RuntimeError("the scene went away")
    assert WebController._guarded(controller, broken, default=True) is True  # the watch loop then ends its wait
    assert controller.workflow.status.error and "the scene went away" in controller.workflow.status.text
    assert WebController._guarded(controller, lambda: 7) == 7
