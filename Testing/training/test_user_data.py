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


def nnunet_folder(root, name, labels_json, count=3, channel="CT", flat=False):
    folder = root / name
    (folder / "imagesTr").mkdir(parents=True)
    (folder / "labelsTr").mkdir()
    for n in range(count):
        image, labels = labelled_case(n)
        if flat:  # one 2D slice per case
            image, labels = image[4], labels[4]
        write(image, folder / "imagesTr" / f"case_{n:03d}_0000.nii.gz", *(((1.5, 1.5), (10.0, -5.0)) if flat else ()))
        write(labels, folder / "labelsTr" / f"case_{n:03d}.nii.gz", *(((1.5, 1.5), (10.0, -5.0)) if flat else ()))
    (folder / "dataset.json").write_text(json.dumps({"channel_names": {"0": channel}, "labels": labels_json,
                                                     "file_ending": ".nii.gz"}))
    return folder


def test_your_own_spleen_is_trained_on_and_the_ignore_label_is_no_structure(tmp_path):
    """The packaged sources hold some classes out of training; a researcher's own data holds none out."""
    folder = nnunet_folder(tmp_path, "Dataset009_Spleen", {"background": 0, "spleen": 1, "ignore": 2})
    out = tmp_path / "cache"
    assert prepare_data_main(["--output", str(out), "--dataset", str(folder), "--no-builtin"]) == 0
    cases, info = read_manifest(out)
    assert {(s.name, s.role) for c in cases for s in c.structures} == {("spleen", "train"), ("spleen", "val")}
    assert info["unseen_classes"] == []
    _, labels = cases[0].load()
    assert set(np.unique(labels)) == {0, 1}  # the unannotated voxels are no label


def test_2d_images_are_one_slice_cases(tmp_path):
    folder = nnunet_folder(tmp_path, "Dataset002_Flat", {"background": 0, "a": 1, "b": 2}, flat=True)
    out = tmp_path / "cache"
    assert prepare_data_main(["--output", str(out), "--dataset", str(folder), "--no-builtin"]) == 0
    volume, labels = read_manifest(out)[0][0].load()
    assert volume.shape == labels.shape == (1, 24, 24)


def test_each_dataset_holds_out_its_own_validation_case(tmp_path):
    first = nnunet_folder(tmp_path, "Dataset011_A", {"background": 0, "a": 1, "b": 2}, count=4)
    second = nnunet_folder(tmp_path, "Dataset012_B", {"background": 0, "a": 1, "b": 2}, count=2)
    out = tmp_path / "cache"
    assert prepare_data_main(["--output", str(out), "--dataset", str(first), "--dataset", str(second),
                              "--no-builtin"]) == 0
    held_out = sorted(c.case_id for c in read_manifest(out)[0] if c.split == "val")
    assert held_out == ["Dataset011_A-case_003", "Dataset012_B-case_001"]


def test_bad_datasets_say_what_is_wrong_and_leave_the_cache_as_it_was(tmp_path, capsys):
    good = nnunet_folder(tmp_path / "good", "Dataset001_X", {"background": 0, "a": 1, "b": 2})
    out = tmp_path / "cache"
    assert prepare_data_main(["--output", str(out), "--dataset", str(good), "--no-builtin"]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    twin = nnunet_folder(tmp_path / "other", "Dataset001_X", {"background": 0, "a": 1, "b": 2})
    empty = nnunet_folder(tmp_path / "empty", "Dataset003_Empty", {"background": 0, "a": 1}, count=0)
    lost = nnunet_folder(tmp_path / "lost", "Dataset004_Lost", {"background": 0, "a": 1, "b": 2})
    _, labels = labelled_case(1)
    write(labels, lost / "labelsTr" / "case_001.nii.gz", spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0))
    broken = nnunet_folder(tmp_path / "broken", "Dataset005_Broken", {"background": 0, "a": 1, "b": 2})
    (broken / "labelsTr" / "case_002.nii.gz").write_bytes(b"not an image")
    for datasets, message in [([good, twin], "Two cases are named"), ([empty], "holds no labelled case"),
                              ([lost], "header was probably lost"), ([broken], "Cannot read"),
                              ([good], "validation share")]:
        extra = ["--validation-share", "20"] if message == "validation share" else []
        argv = ["--output", str(out), "--no-builtin", *extra] + [a for d in datasets for a in ("--dataset", str(d))]
        assert prepare_data_main(argv) == 2
        assert message in capsys.readouterr().err
        assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def _lps_matrix(spacing, origin):
    matrix = np.eye(4)
    matrix[:3, :3] = np.diag(spacing)
    matrix[:3, 3] = origin
    return matrix
