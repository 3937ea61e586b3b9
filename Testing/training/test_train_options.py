"""train refuses what it would otherwise get wrong later: options --init would ignore, a grid of the wrong
length, an output it cannot write, a checkpoint of another run, a cache of other data."""
import pytest
import torch

from interactiveseg import InputError
from interactiveseg.training.commands import train_main
from interactiveseg.training.trainer import TrainConfig, Trainer

COMMON = ["--grid", "16", "16", "--channels", "4", "--device", "cpu", "--validation-lesions", "1"]


def config(manifest, output, **changes):
    values = dict(manifest=str(manifest), output=str(output), dims=2, grid=(None, 16, 16), channels=4, steps=1,
                  batch=2, device="cpu", threads=1, validation_lesions=1)
    return TrainConfig(**{**values, **changes})


@pytest.fixture(scope="module")
def first_model(tiny_manifest, tmp_path_factory):
    path = tmp_path_factory.mktemp("first") / "first.safetensors"
    assert train_main(["--data", str(tiny_manifest), "--output", str(path), "--steps", "1"] + COMMON) == 0
    return path


@pytest.mark.parametrize("options, message", [
    (["--init", "FIRST", "--channels", "8"], "--channels 8 differs from the model given to --init"),
    (["--init", "FIRST", "--dims", "3"], "--dims 3 differs"),
    (["--grid", "8", "16", "16"], "--grid takes 2 values for a 2D network"),
])
def test_options_that_would_be_ignored_or_misread_are_refused(tiny_manifest, tmp_path, first_model, capsys,
                                                              options, message):
    options = [str(first_model) if o == "FIRST" else o for o in options]
    with pytest.raises(SystemExit) as stopped:
        train_main(["--data", str(tiny_manifest), "--output", str(tmp_path / "m.safetensors")] + options)
    assert stopped.value.code == 2 and message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("output, message", [("m.pt", "as .safetensors"), ("no-such/m.safetensors", "does not exist")])
def test_an_output_that_cannot_be_written_is_refused_before_the_cache_is_built(tiny_manifest, tmp_path, output,
                                                                               message):
    with pytest.raises(InputError, match=message):
        Trainer(config(tiny_manifest, tmp_path / output), log=lambda text: None)
    assert not any(tmp_path.iterdir())


def test_a_checkpoint_of_another_network_is_not_resumed(tiny_manifest, tmp_path):
    output = tmp_path / "m.safetensors"
    Trainer(config(tiny_manifest, output), log=lambda text: None).run(resume=False)
    wider = Trainer(config(tiny_manifest, output, channels=6), log=lambda text: None)
    with pytest.raises(InputError, match="another network, grid or data"):
        wider.run()
    assert torch.load(output.with_suffix(".ckpt.pt"), weights_only=True)["state"]["step"] == 1  # left as it was


def test_a_cache_of_other_data_is_built_again(tiny_manifest, other_manifest, tmp_path):
    output = tmp_path / "m.safetensors"
    Trainer(config(tiny_manifest, output), log=lambda text: None)
    trainer = Trainer(config(other_manifest, output), log=lambda text: None)
    assert trainer.cache.info["manifest"] == str(other_manifest)
    assert {entry.subject for entry in trainer.cache.entries} == {"x"}  # the training subject of that data
