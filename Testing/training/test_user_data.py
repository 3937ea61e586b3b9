"""prepare-data on a researcher's own data: an nnU-Net v2 raw folder, image/label pairs, Slicer .seg.nrrd."""
import json

import numpy as np
import SimpleITK as sitk
import slicerio

from interactiveseg.training.commands import prepare_data_main
from interactiveseg.training.manifest import read_manifest


def labelled_case(seed: int):
    rng = np.random.default_rng(seed)
    labels = np.zeros((10, 24, 24), np.uint8)
    labels[2:8, 4:12, 4:12] = 1
    labels[3:7, 14:20, 12:22] = 2
    image = (rng.normal(0, 20, labels.shape) + 200 * (labels == 1) + 400 * (labels == 2) - 900).astype(np.int16)
    image[:, :, :2] = -1000  # air at the edge, so the image reads as CT
    return image, labels


def write(array, path, spacing=(1.5, 1.5, 3.0), origin=(10.0, -5.0, 2.0)):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    sitk.WriteImage(image, str(path))


def test_nnunet_raw_dataset_becomes_a_manifest(tmp_path):
    folder = tmp_path / "Dataset001_Toy"
    (folder / "imagesTr").mkdir(parents=True)
    (folder / "labelsTr").mkdir()
    for n in range(5):
        image, labels = labelled_case(n)
        write(image, folder / "imagesTr" / f"toy_{n:03d}_0000.nii.gz")
        write(labels, folder / "labelsTr" / f"toy_{n:03d}.nii.gz")
    (folder / "dataset.json").write_text(json.dumps({
        "channel_names": {"0": "CT"}, "labels": {"background": 0, "Left Thing": 1, "right thing": 2},
        "numTraining": 5, "file_ending": ".nii.gz"}))
    out = tmp_path / "cache"
    assert prepare_data_main(["--output", str(out), "--dataset", str(folder), "--no-builtin"]) == 0
    cases, _ = read_manifest(out)
    assert len(cases) == 5 and {c.modality for c in cases} == {"CT"}
    assert [c.split for c in cases].count("val") == 1  # every fifth case, in name order
    names = {s.name for c in cases for s in c.structures}
    assert names == {"left_thing", "right_thing"}
    volume, labels = cases[0].load()
    image, reference = labelled_case(0)
    assert np.array_equal(labels, reference) and volume.spacing == (1.5, 1.5, 3.0)


def test_image_label_pairs_and_slicer_segmentations(tmp_path):
    pairs = tmp_path / "pairs"
    (pairs / "images").mkdir(parents=True)
    (pairs / "labels").mkdir()
    image, labels = labelled_case(7)
    write(image, pairs / "images" / "one.nii.gz")
    write(labels, pairs / "labels" / "one.nii.gz")
    (pairs / "labels.json").write_text(json.dumps({"1": "Cyst", "2": "Kidney"}))

    slicer = tmp_path / "slicer"
    slicer.mkdir()
    write(image, slicer / "scan.nrrd")
    ijk = labels.transpose(2, 1, 0)  # slicerio's voxels are (i, j, k)
    segmentation = slicerio.create_segmentation(ijk.shape, _lps_matrix((1.5, 1.5, 3.0), (10.0, -5.0, 2.0)))
    for value, name in ((1, "tumour"), (2, "organ")):
        slicerio.add_segment(segmentation, ijk == value, {"name": name})
    slicerio.write_segmentation(str(slicer / "scan.seg.nrrd"), segmentation)

    out = tmp_path / "cache"
    code = prepare_data_main(["--output", str(out), "--dataset", str(pairs), "--dataset", str(slicer), "--no-builtin",
                              "--validation-share", "0"])
    assert code == 0
    cases = {c.case_id: c for c in read_manifest(out)[0]}
    assert set(cases) == {"pairs-one", "slicer-scan"}
    assert {s.name for s in cases["pairs-one"].structures} == {"cyst", "kidney"}
    assert {s.name for s in cases["slicer-scan"].structures} == {"tumour", "organ"}
    _, read_back = cases["slicer-scan"].load()
    organ = next(s for s in cases["slicer-scan"].structures if s.name == "organ")
    assert np.array_equal(read_back == organ.value, labels == 2)  # on the image grid, not shifted


def test_a_folder_that_is_no_dataset_gets_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert prepare_data_main(["--output", str(tmp_path / "cache"), "--dataset", str(tmp_path / "empty"),
                              "--no-builtin"]) == 2
    assert "is not a dataset" in capsys.readouterr().err
    assert not (tmp_path / "cache" / "manifest.json").exists()


def _lps_matrix(spacing, origin):
    matrix = np.eye(4)
    matrix[:3, :3] = np.diag(spacing)
    matrix[:3, 3] = origin
    return matrix
