import json

import numpy as np
import pytest

from interactiveseg.evaluation.methods import ENGINE_METHODS, make_method
from interactiveseg.evaluation.report import markdown, plot, summarize
from interactiveseg.evaluation.robot_user import RobotUser
from interactiveseg.evaluation.runner import Task, run_tasks


class PerfectMethod:
    """Returns the reference: what an ideal tool would give from the box alone."""

    def __init__(self, reference):
        self.reference = reference
        self.calls = []

    def start(self, volume, box):
        return self.reference.copy()

    def correct(self, foreground, background):
        self.calls.append((foreground.sum(), background.sum()))
        return self.reference.copy()


class BoxFiller:
    """Fills the whole box: every error is a false region, so strokes must be background."""

    def start(self, volume, box):
        self.mask = np.zeros(volume.shape, bool)
        self.mask[box.slices()] = True
        return self.mask

    def correct(self, foreground, background):
        self.mask = self.mask & ~background | foreground
        return self.mask


def task(ellipsoid, role="seen"):
    volume, reference = ellipsoid
    return Task("synthetic", "ellipsoid", 1, role, volume, reference)


def test_perfect_method_scores_dice_one_and_gets_no_strokes(ellipsoid):
    perfect = PerfectMethod(ellipsoid[1])
    rows = run_tasks([task(ellipsoid)], ["perfect"], RobotUser(), 2, method_factory=lambda name: perfect, log=None)
    assert [r["round"] for r in rows] == [0, 1, 2]
    assert all(r["dice"] == 1.0 and r["hd95_mm"] == 0.0 for r in rows)
    assert perfect.calls == [(0, 0), (0, 0)]


def test_box_filler_receives_background_strokes_only(ellipsoid):
    rows = run_tasks([task(ellipsoid)], ["filler"], RobotUser(), 2, method_factory=lambda name: BoxFiller(), log=None)
    assert rows[0]["dice"] < 1.0
    for row in rows[1:]:
        assert row["stroke_voxels"]["background"] > 0 and row["stroke_voxels"]["foreground"] == 0
    assert rows[-1]["dice"] > rows[0]["dice"]  # the strokes removed wrong voxels


@pytest.mark.parametrize("name", ["growcut", "random_walker"])
def test_baseline_runs_on_a_small_case(ellipsoid, name):
    rows = run_tasks([task(ellipsoid)], [name], RobotUser(), 2, method_factory=make_method, log=None)
    assert rows[0]["dice"] == 0.0  # a box alone gives a seed-growing method nothing to grow
    assert rows[1]["stroke_voxels"]["foreground"] > 0
    assert rows[-1]["dice"] > 0.8, rows  # a bright object, a stroke and the box outside suffice
    assert all(r["seconds"] >= 0 and r["peak_mb"] >= 0 for r in rows)


def test_engine_methods_run_and_share_round_zero(ellipsoid, tiny_model):
    rows = run_tasks([task(ellipsoid)], list(ENGINE_METHODS), RobotUser(), 1,
                     method_factory=lambda name: make_method(name, model=tiny_model), log=None)
    assert len(rows) == 2 * len(ENGINE_METHODS)
    first = [r for r in rows if r["round"] == 0]
    assert len({r["dice"] for r in first}) == 1  # same box, same network: same start
    strokes = {json.dumps(r["stroke_voxels"]) for r in rows if r["round"] == 1}
    assert len(strokes) == 1  # same mask, same seed: same strokes for every variant
    cnn = [r["dice"] for r in rows if r["method"] == "cnn"]
    assert cnn[0] == cnn[1]  # "CNN only" never refines


def test_report_summarizes_per_group_and_writes_a_plot(ellipsoid, tmp_path):
    rows = run_tasks([task(ellipsoid, "seen")], ["perfect"], RobotUser(), 1,
                     method_factory=lambda name: PerfectMethod(ellipsoid[1]), log=None)
    rows += [dict(r, role="unseen", dice=0.5) for r in rows]
    summary = summarize(rows)
    assert summary["seen"]["methods"]["perfect"]["1"]["dice"] == 1.0
    assert summary["unseen"]["methods"]["perfect"]["1"]["dice"] == 0.5
    assert summary["all"]["methods"]["perfect"]["0"]["dice"] == 0.75
    text = markdown(summary, "interactiveseg evaluate ...")
    assert "| perfect | 1.000 | 1.000 |" in text and "interactiveseg evaluate ..." in text
    assert plot(summary, tmp_path / "dice.png").stat().st_size > 1000
    one_role = markdown(summarize([r for r in rows if r["role"] == "seen"]))
    assert "seen structures" in one_role and "all structures" not in one_role  # not the same table twice


def test_every_simulated_user_runs_through_the_one_runner(ellipsoid, tiny_model):
    """The error-driven, CVPR and uncertainty-guided users share the box rule and the runner."""
    from interactiveseg.evaluation.cvpr_robot import CvprRobot
    from interactiveseg.evaluation.guided_user import GuidedUser
    robot = RobotUser()
    rows = []
    for user in (robot, CvprRobot(), GuidedUser(robot)):
        rows += run_tasks([task(ellipsoid)], ["full"], user, 1,
                          method_factory=lambda name: make_method(name, model=tiny_model), log=None)
    assert [r["user"] for r in rows] == ["error-driven"] * 2 + ["cvpr25"] * 2 + ["uncertainty-guided"] * 2
    assert rows[0]["box"] == rows[4]["box"]  # the guided user drags the error-driven user's box
    # This tiny model is confident everywhere: the guided user finds nothing to paint, and the mask stays.
    assert rows[5]["stroke_voxels"] == {"foreground": 0, "background": 0} and rows[5]["dice"] == rows[4]["dice"]
    with pytest.raises(ValueError, match="needs the engine's result"):
        run_tasks([task(ellipsoid)], ["perfect"], GuidedUser(robot), 1,
                  method_factory=lambda name: PerfectMethod(ellipsoid[1]), log=None)
