import subprocess

import numpy as np
import pytest

from interactiveseg.training.manifest import read_manifest
from interactiveseg.training.prepare_data import prepare
from interactiveseg.training.sources import structure_name



def test_slicerio_chest_becomes_a_validation_case(tmp_path):
    path = prepare(tmp_path / "cache", templates=tmp_path / "no-templates", log=lambda text: None)
    cases, info = read_manifest(path)
    assert [c.case_id for c in cases] == ["slicerio-chest"]
    case = cases[0]
    assert case.split == "val" and case.modality == "CT"
    names = {s.name for s in case.structures}
    assert {"right_lung", "left_lung", "ribs"} <= names
    volume, labels = case.load()
    assert labels.shape == volume.shape
    lung = next(s for s in case.structures if s.name == "right_lung")
    assert lung.volume_ml > 500  # an adult lung
    assert np.mean(volume.array[labels == lung.value]) < -500  # labels sit on air, not shifted off it
    i0, j0, k0, i1, j1, k1 = lung.bbox_ijk
    inside = labels[k0:k1 + 1, j0:j1 + 1, i0:i1 + 1] == lung.value
    assert inside.sum() == lung.voxels
    assert "unseen_classes" in info


def test_cache_inside_a_git_repository_is_refused(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    with pytest.raises(ValueError, match="git"):
        prepare(tmp_path / "repo" / "data", templates=tmp_path / "none", log=lambda text: None)


def test_structure_names_have_one_spelling():
    assert structure_name("Right Lung") == "right_lung"
    assert structure_name("Frontal_Sup_Orb_L") == "frontal_sup_orb_l"
