import json

import pytest
import torch

from interactiveseg.model_file import load_model
from interactiveseg.training.commands import train_main
from interactiveseg.training.trainer import TrainConfig, Trainer


@pytest.mark.parametrize("dims, grid", [(3, ["8", "16", "16"]), (2, ["16", "16"])])
def test_two_training_steps_write_a_loadable_model(tiny_manifest, tmp_path, dims, grid):
    output = tmp_path / f"tiny-{dims}d.safetensors"
    code = train_main(["--data", str(tiny_manifest), "--output", str(output), "--dims", str(dims), "--steps", "2",
                       "--grid", *grid, "--channels", "4", "--validate-every", "1", "--device", "cpu"])
    assert code == 0
    model = load_model(output)
    assert model.dims == dims
    assert model.card["training"]["subjects_train"] == ["a", "b"]
    assert model.card["training"]["subjects_validation"] == ["c"]
    history = model.card["training"]["history_step_loss_dice"]
    assert [h[0] for h in history] == [1, 2][: len(history)] and len(history) >= 1
    assert 0.0 <= history[0][2] <= 1.0
    assert model.card["finetune_defaults"] == {}
    with torch.no_grad():
        channels = 1 + 2 * model.network.context_slices
        out = model.network(torch.zeros((1, 1, 8, 16, 16) if dims == 3 else (2, channels, 16, 16)))
    assert out.shape[1] == 2


def test_training_resumes_from_its_checkpoint(tiny_manifest, tmp_path):
    messages = []
    config = TrainConfig(manifest=str(tiny_manifest), output=str(tmp_path / "m.safetensors"), dims=3, grid=(8, 16, 16),
                         channels=4, steps=2, validate_every=100)
    Trainer(config, log=messages.append).run()
    first = torch.load(tmp_path / "m.ckpt.pt", weights_only=True)
    assert first["state"]["step"] == 2
    config.steps = 3
    resumed = Trainer(config, log=messages.append)
    resumed.run()
    assert any("resumed" in m and "step 2" in m for m in messages)
    assert resumed.state["step"] == 3
    changed = any(not torch.equal(first["network"][k], v) for k, v in resumed.network.state_dict().items())
    assert changed  # the third step trained from the saved weights
    json.loads((tmp_path / "m.json").read_text())


def test_card_says_why_the_run_stopped(tiny_manifest, tmp_path):
    config = TrainConfig(manifest=str(tiny_manifest), output=str(tmp_path / "m.safetensors"), dims=3, grid=(8, 16, 16),
                         channels=4, steps=2, validate_every=1)
    Trainer(config, log=lambda _: None).run()
    training = json.loads((tmp_path / "m.json").read_text())["training"]
    assert training["stopped_by"] == "step limit (--steps 2)"
    assert training["run_total_steps"] == 2 and len(training["run_history_step_loss_dice"]) == 2
    config.steps, config.max_seconds = 10, 0.0
    Trainer(config, log=lambda _: None).run()
    training = json.loads((tmp_path / "m.json").read_text())["training"]
    assert training["stopped_by"] == "time budget (--max-seconds 0)"
    assert training["run_total_steps"] == 3  # one step, then the budget was spent


class FlatValidation(Trainer):
    """A trainer whose validation never improves after the first, to drive the stopping rule."""

    def validate(self) -> float:
        return 0.5


def test_training_stops_when_validation_stops_improving(tiny_manifest, tmp_path):
    messages = []
    config = TrainConfig(manifest=str(tiny_manifest), output=str(tmp_path / "m.safetensors"), dims=3, grid=(8, 16, 16),
                         channels=4, steps=50, validate_every=1, patience=2, max_drops=1, learning_rate=1e-3,
                         schedule="plateau")
    trainer = FlatValidation(config, log=messages.append)
    trainer.run()
    # best at step 1; 2 flat validations -> drop; 2 more -> stop at step 5
    assert trainer.state["step"] == 5
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(3e-4)
    card = load_model(tmp_path / "m.safetensors").card
    assert card["training"]["best_step"] == 1
    assert card["training"]["stopped_by"].startswith("validation Dice stopped improving")
