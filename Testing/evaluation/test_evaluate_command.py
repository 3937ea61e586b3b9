import json

import numpy as np
import SimpleITK as sitk

from interactiveseg.evaluation.commands import evaluate_main, parse_overrides
from interactiveseg.settings import Settings


def write_case(folder, volume, reference):
    image, label = folder / "image.nii.gz", folder / "label.nii.gz"
    for path, array in ((image, volume.array.astype(np.float32)), (label, reference.astype(np.uint8) * 3)):
        itk_image = sitk.GetImageFromArray(array)
        itk_image.SetSpacing(volume.spacing)
        sitk.WriteImage(itk_image, str(path))
    return image, label


def test_evaluate_writes_json_table_and_plot(ellipsoid, tiny_model, tmp_path):
    image, label = write_case(tmp_path, *ellipsoid)
    output = tmp_path / "results.json"
    code = evaluate_main(["--image", str(image), "--label", str(label), "--rounds", "1", "--methods", "cnn,growcut",
                          "--model", str(tiny_model.path), "--set", "omega=3", "--output", str(output)])
    assert code == 0
    results = json.loads(output.read_text())
    assert {r["method"] for r in results["rows"]} == {"cnn", "growcut"}
    assert results["config"]["settings"]["omega"] == 3
    assert "Grow from seeds" in output.with_suffix(".md").read_text()


def test_evaluate_refuses_an_unknown_method(ellipsoid, tmp_path):
    image, label = write_case(tmp_path, *ellipsoid)
    code = evaluate_main(["--image", str(image), "--label", str(label), "--methods", "magic",
                          "--output", str(tmp_path / "r.json")])
    assert code == 2


def test_overrides_reach_settings_and_crf():
    settings = Settings().with_overrides(parse_overrides(["omega=2.5", "crf.iterations=7", "fine_tune=false"]))
    assert settings.omega == 2.5 and settings.crf.iterations == 7 and settings.fine_tune is False
