import json

import numpy as np
import pytest

from interactiveseg import InputError, Volume
from interactiveseg.roi import box_from_corners, box_from_roi_file, read_roi, roi_document

from engine_fixtures import oblique_direction


def write(path, document):
    path.write_text(json.dumps(document))
    return path


def test_axis_aligned_roi_gives_voxels_whose_centres_are_inside(tmp_path):
    volume = Volume(np.arange(1000.0).reshape(10, 10, 10), spacing=(2, 2, 2), origin=(0, 0, 0))
    # Spans x 3..11 mm -> voxel centres 4, 6, 8, 10 mm -> i 2..5; y 0..4 -> j 0..2; z 8..8 -> k 4.
    path = write(tmp_path / "roi.mrk.json", roi_document(center_lps=(7, 2, 8), size=(8, 4, 0.5)))
    assert box_from_roi_file(path, volume).as_ijk() == [2, 0, 4, 5, 2, 4]


def test_ras_and_lps_files_of_the_same_roi_give_the_same_box(tmp_path):
    volume = Volume(np.arange(8000.0).reshape(20, 20, 20), spacing=(1.5, 1.0, 2.5), origin=(-10, 5, 3),
                    direction=oblique_direction())
    lps = roi_document(center_lps=(0, 15, 20), size=(10, 12, 14), orientation=oblique_direction().T)
    ras = json.loads(json.dumps(lps))
    ras["markups"][0]["coordinateSystem"] = "RAS"
    ras["markups"][0]["center"] = [0, -15, 20]
    flip = np.diag([-1.0, -1.0, 1.0])
    ras["markups"][0]["orientation"] = (flip @ oblique_direction().T).ravel().tolist()
    box_lps = box_from_roi_file(write(tmp_path / "a.mrk.json", lps), volume)
    box_ras = box_from_roi_file(write(tmp_path / "b.mrk.json", ras), volume)
    assert box_lps == box_ras


def test_rotated_roi_box_contains_all_its_corners(tmp_path):
    volume = Volume(np.arange(27000.0).reshape(30, 30, 30), direction=oblique_direction(), origin=(-5, -5, -5))
    path = write(tmp_path / "r.mrk.json", roi_document((4, 6, 8), (6, 3, 5), oblique_direction()))
    corners = read_roi(path)
    box = box_from_corners(corners, volume)
    ijk = (np.c_[corners, np.ones(8)] @ np.linalg.inv(volume.ijk_to_lps()).T)[:, :3]
    assert np.all(np.array(box.lower) >= np.floor(ijk.min(0))) and np.all(np.array(box.upper) <= np.ceil(ijk.max(0)))
    assert np.all(np.array(box.lower) - ijk.min(0) < 1) and np.all(ijk.max(0) - np.array(box.upper) < 1)


@pytest.mark.parametrize("content, message", [
    (None, "not found"),
    ("{not json", "not valid JSON"),
    (json.dumps({"markups": [{"type": "Fiducial"}]}), "No ROI"),
    (json.dumps({"markups": [{"type": "ROI", "center": [0, 0, 0], "size": [0, 1, 1]}]}), "empty size"),
])
def test_bad_roi_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.mrk.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=message):
        read_roi(path)
