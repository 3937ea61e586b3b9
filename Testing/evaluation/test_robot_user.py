import numpy as np
from scipy import ndimage

from interactiveseg.evaluation.robot_user import RobotUser

from evaluation_fixtures import ellipsoid_case


def test_same_seed_same_box_and_strokes(ellipsoid):
    volume, reference = ellipsoid
    wrong = np.roll(reference, 3, axis=2)
    first, second = RobotUser(seed=7), RobotUser(seed=7)
    assert first.box(reference, "case", 1) == second.box(reference, "case", 1)
    a = first.strokes(wrong, reference, volume.spacing, "case", 1, 1)
    b = second.strokes(wrong, reference, volume.spacing, "case", 1, 1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert a[0].any() or a[1].any()


def test_seed_changes_the_boxes(ellipsoid):
    _, reference = ellipsoid
    boxes = {RobotUser(seed=s).box(reference, "case", 1) for s in range(6)}
    assert len(boxes) > 1


def test_box_encloses_the_structure_and_stays_in_the_volume(ellipsoid):
    _, reference = ellipsoid
    for seed in range(10):
        box = RobotUser(seed=seed, margin_fraction=(0.2, 0.5), jitter=4).box(reference, "c", seed)
        inside = np.zeros_like(reference)
        inside[box.slices()] = True
        assert not (reference & ~inside).any()
        assert min(box.lower) >= 0 and all(u < n for u, n in zip(box.upper, reversed(reference.shape)))


def test_foreground_stroke_lies_inside_the_missed_region_away_from_its_border(ellipsoid):
    volume, reference = ellipsoid
    mask = reference.copy()
    mask[:, :, 20:] = False  # half the object missed
    user = RobotUser(seed=3)
    foreground, background = user.strokes(mask, reference, volume.spacing, "c", 1, 1)
    missed = reference & ~mask
    assert foreground.any() and not background.any()
    assert not (foreground & ~missed).any()
    k = np.nonzero(foreground.any(axis=(1, 2)))[0]
    assert len(k) == 1  # one slice: the one with the most wrong voxels
    errors_per_slice = missed.sum(axis=(1, 2))
    assert errors_per_slice[k[0]] == errors_per_slice.max()
    depth = ndimage.distance_transform_edt(missed[k[0]])
    assert depth[foreground[k[0]]].min() >= user.border_voxels
    length = np.ptp(np.argwhere(foreground[k[0]]), axis=0)
    assert np.hypot(*length) <= user.stroke_mm + 1


def test_background_stroke_lies_inside_the_false_region():
    volume, reference = ellipsoid_case()
    mask = reference | ellipsoid_case(centre=(7, 18, 30), radii=(4, 8, 8))[1]  # a large false blob
    foreground, background = RobotUser(seed=1).strokes(mask, reference, volume.spacing, "c", 1, 1)
    assert background.any() and not foreground.any()
    assert not (background & ~(mask & ~reference)).any()


def test_several_strokes_per_round_go_to_different_regions(ellipsoid):
    volume, reference = ellipsoid
    mask = reference.copy()
    mask[:, :, 20:] = False
    mask |= ellipsoid_case(centre=(7, 18, 33), radii=(3, 5, 4))[1] & ~reference
    foreground, background = RobotUser(strokes_per_round=2).strokes(mask, reference, volume.spacing, "c", 1, 1)
    one, = RobotUser(strokes_per_round=1).strokes(mask, reference, volume.spacing, "c", 1, 1)[:1]
    assert not (one & ~foreground).any()  # the first stroke is the same, a second one is added
    assert len(np.nonzero((foreground | background).any(axis=(1, 2)))[0]) == 2  # the next worst slice
    assert not (foreground & ~(reference & ~mask)).any() and not (background & ~(mask & ~reference)).any()


def test_no_strokes_when_the_mask_is_right(ellipsoid):
    volume, reference = ellipsoid
    foreground, background = RobotUser().strokes(reference.copy(), reference, volume.spacing, "c", 1, 1)
    assert not foreground.any() and not background.any()


def test_the_cvpr_robot_corrects_inside_the_largest_error_component():
    from scipy import ndimage

    from interactiveseg.evaluation.cvpr_robot import CvprRobot
    reference = np.zeros((10, 40, 40), bool)
    reference[2:8, 5:35, 5:35] = True
    mask = reference.copy()
    mask[3:7, 10:20, 10:30] = False  # a large hole: the largest error
    mask[0, 0:3, 0:3] = True  # a small false blob
    robot = CvprRobot(seed=0)
    point, component, is_foreground = robot.correction_point(mask, reference)
    labels, _ = ndimage.label(mask != reference, structure=np.ones((3, 3, 3), bool))
    largest = labels == np.argmax(np.bincount(labels.ravel())[1:]) + 1
    assert np.array_equal(component, largest) and largest[point] and is_foreground
    depth = ndimage.distance_transform_edt(np.pad(largest, 1))[1:-1, 1:-1, 1:-1]
    assert depth[point] == depth.max()  # the deepest point of it
    foreground, background = robot.strokes(mask, reference, (1.0, 1.0, 2.0), "case", 1, 1)
    assert foreground[point] and not background.any()
    assert (foreground & ~largest).sum() == 0 and 1 < foreground.sum() <= 21  # a short stroke (10 mm) inside it
    robot_again = CvprRobot(seed=0).strokes(mask, reference, (1.0, 1.0, 2.0), "case", 1, 1)
    assert np.array_equal(robot_again[0], foreground)


def test_nsd_is_one_for_a_match_and_falls_with_distance():
    from interactiveseg.evaluation.cvpr_robot import area_under_steps, nsd
    reference = np.zeros((20, 40, 40), bool)
    reference[5:15, 10:30, 10:30] = True
    assert nsd(reference, reference, (1.0, 1.0, 1.0)) == 1.0
    shifted = np.roll(reference, 1, axis=2)
    far = np.roll(reference, 6, axis=2)
    assert 0.9 < nsd(shifted, reference, (1.0, 1.0, 1.0)) <= 1.0
    assert nsd(far, reference, (1.0, 1.0, 1.0)) < nsd(shifted, reference, (1.0, 1.0, 1.0)) - 0.2
    assert area_under_steps([0.5, 0.5, 0.5, 0.5, 0.5]) == 2.0
