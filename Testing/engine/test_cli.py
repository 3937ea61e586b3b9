"""The command line, run as a user runs it: a separate process, real files in and out."""
import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import slicerio

from interactiveseg import InputError, Volume, read_volume, write_labelmap
from interactiveseg.image_io import atomic_write, read_labelmap
from interactiveseg.demo import SAMPLE_IMAGE
from interactiveseg.roi import roi_document

BOX = ["54", "32", "7", "113", "101", "33"]


def run(*args):
    return subprocess.run([sys.executable, "-m", "interactiveseg.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def sample_scribbles(tmp_path_factory):
    volume = read_volume(SAMPLE_IMAGE)
    labels = np.zeros(volume.shape, dtype=np.uint8)
    labels[20, 70, 82:101] = 1
    labels[20, 68, 57:73] = 2
    return write_labelmap(tmp_path_factory.mktemp("s") / "scribbles.nrrd", labels, volume)


def test_segment_with_box_and_scribbles_writes_a_slicer_segmentation(tmp_path, random_model_path, sample_scribbles):
    before = digest(SAMPLE_IMAGE), digest(sample_scribbles)
    out = tmp_path / "out.seg.nrrd"
    done = run("segment", SAMPLE_IMAGE, "--box", *BOX, "--scribbles", sample_scribbles, "--output", out,
               "--model", random_model_path, "--device", "cpu", "--json", "--uncertainty", tmp_path / "u.nrrd")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {"seconds", "device", "voxels"} <= report.keys() and report["device"] == "cpu" and report["rounds"] == 1
    seg = slicerio.read_segmentation(str(out))
    voxels = seg["voxels"].transpose(2, 1, 0)  # slicerio gives (i, j, k)
    assert int((voxels == 1).sum()) == report["voxels"]
    k, j, i = np.nonzero(voxels)
    if len(k):
        assert i.min() >= 54 and i.max() <= 113 and k.min() >= 7
    assert read_volume(tmp_path / "u.nrrd").shape == (34, 128, 128)
    assert (digest(SAMPLE_IMAGE), digest(sample_scribbles)) == before


def test_same_inputs_and_seed_give_the_same_file_content(tmp_path, random_model_path, sample_scribbles):
    outputs = []
    for name in ("a.nrrd", "b.nrrd"):
        done = run("segment", SAMPLE_IMAGE, "--box", *BOX, "--scribbles", sample_scribbles,
                   "--output", tmp_path / name, "--model", random_model_path, "--seed", 3)
        assert done.returncode == 0, done.stderr
        outputs.append(read_labelmap(tmp_path / name, read_volume(SAMPLE_IMAGE)))
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_roi_file_gives_the_same_result_as_the_equivalent_box(tmp_path, random_model_path):
    volume = read_volume(SAMPLE_IMAGE)
    ijk = np.array([[54, 32, 7, 1], [113, 101, 33, 1]], dtype=float)
    corners = (ijk @ volume.ijk_to_lps().T)[:, :3]
    roi = tmp_path / "box.mrk.json"
    roi.write_text(json.dumps(roi_document(corners.mean(0), np.abs(corners[1] - corners[0]))))
    a = run("segment", SAMPLE_IMAGE, "--roi", roi, "--output", tmp_path / "a.nrrd", "--model", random_model_path,
            "--json")
    b = run("segment", SAMPLE_IMAGE, "--box", *BOX, "--output", tmp_path / "b.nrrd", "--model", random_model_path,
            "--json")
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    assert json.loads(a.stdout)["box"] == json.loads(b.stdout)["box"] == [int(v) for v in BOX]


def bad_inputs(tmp_path, random_model_path, sample_scribbles):
    nan_image = tmp_path / "nan.nrrd"
    write_labelmap(nan_image, np.ones((3, 4, 5)), Volume(np.arange(60.0).reshape(3, 4, 5)))
    nan_array = np.arange(60.0).reshape(3, 4, 5)
    nan_array[1, 1, 1] = np.nan
    import SimpleITK as sitk
    sitk.WriteImage(sitk.GetImageFromArray(nan_array), str(nan_image))
    other_grid = tmp_path / "other.nrrd"
    write_labelmap(other_grid, np.ones((34, 64, 64)), Volume(np.arange(34 * 64 * 64.0).reshape(34, 64, 64)))
    empty = tmp_path / "empty.nrrd"
    write_labelmap(empty, np.zeros((34, 128, 128)), read_volume(SAMPLE_IMAGE))
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(random_model_path.read_bytes()[:-10])
    corrupt.with_suffix(".json").write_text(random_model_path.with_suffix(".json").read_text())
    return [
        ((nan_image, "--box", 0, 0, 0, 2, 2, 2), "NaN"),
        ((SAMPLE_IMAGE, "--box", 500, 500, 50, 600, 600, 60), "outside the volume"),
        ((SAMPLE_IMAGE, "--box", 60, 60, 20, 50, 70, 25), "inverted"),
        ((SAMPLE_IMAGE, "--box", *BOX, "--scribbles", other_grid), "different grid"),
        ((SAMPLE_IMAGE, "--box", *BOX, "--scribbles", empty), "empty"),
        ((SAMPLE_IMAGE, "--box", *BOX, "--model", tmp_path / "none.safetensors"), "not found"),
        ((SAMPLE_IMAGE, "--box", *BOX, "--model", corrupt), "checksum"),
        ((tmp_path / "missing.nrrd", "--box", *BOX), "not found"),
    ]


def test_bad_input_exits_non_zero_with_one_message_and_no_output(tmp_path, random_model_path, sample_scribbles):
    for args, message in bad_inputs(tmp_path, random_model_path, sample_scribbles):
        out = tmp_path / "never.seg.nrrd"
        model = [] if "--model" in args else ["--model", random_model_path]
        done = run("segment", *args, *model, "--output", out)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr, (message, done.stderr)
        assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".partial")]


@pytest.mark.parametrize("output, uncertainty, message", [
    ("out.txt", None, "Output must end with one of"),
    ("out.seg.nrrd", "u.txt", "Output must end with one of"),
    ("out.seg.nrrd", "u.seg.nrrd", "Output must end with one of"),  # a map is not a segmentation
    ("no-such-folder/out.seg.nrrd", None, "Output folder does not exist"),
    ("out.MHA", None, "in lower case, .mha"),  # ITK would write a header and data pair elsewhere: an empty file
    ("out.seg.nrrd", "u.NII.GZ", "in lower case, .nii.gz"),  # refused before the segmentation is written
])
def test_unwritable_outputs_are_refused_before_any_work(tmp_path, random_model_path, output, uncertainty, message):
    extra = ["--uncertainty", tmp_path / uncertainty] if uncertainty else []
    done = run("segment", SAMPLE_IMAGE, "--box", *BOX, "--model", random_model_path, "--output", tmp_path / output,
               *extra)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert not any(tmp_path.iterdir())  # not even the first output


def test_a_writer_that_writes_nothing_leaves_no_file(tmp_path):
    with pytest.raises(InputError, match="empty file"):
        atomic_write(tmp_path / "out.nrrd", lambda tmp: None)
    assert not any(tmp_path.iterdir())


def test_outputs_get_the_usual_file_mode(tmp_path):
    import os
    volume = read_volume(SAMPLE_IMAGE)
    path = write_labelmap(tmp_path / "mask.nrrd", volume.array > 0, volume)
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_demo_writes_segmentation_scribbles_and_picture(tmp_path, random_model_path, monkeypatch):
    from interactiveseg import cli, model_file
    monkeypatch.setattr(model_file, "default_model_path", lambda dims=None, slices=None: random_model_path)
    assert cli.main(["demo", "--output-dir", str(tmp_path), "--device", "cpu"]) == 0
    assert slicerio.read_segmentation(str(tmp_path / "demo.seg.nrrd"))["segments"][0]["name"] == "right lung"
    scribbles = read_volume(tmp_path / "demo-scribbles.nrrd").array
    assert set(np.unique(scribbles)) == {0, 1, 2}
    from PIL import Image
    assert Image.open(tmp_path / "demo.png").size[0] > 300


def test_a_command_whose_code_is_not_installed_says_so():
    """The Slicer extension ships the runtime engine only: `train` there must explain, not crash."""
    from interactiveseg import InputError
    from interactiveseg.cli import _delegate
    with pytest.raises(InputError, match="'train' is not part of this installation"):
        _delegate("train", "interactiveseg.not_shipped.commands", "train_main", [])
