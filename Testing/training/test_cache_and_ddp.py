"""The training cache reproduces make_sample; two DDP processes (gloo, CPU) train the same weights."""
import subprocess
import sys
import textwrap

import numpy as np
import torch
from safetensors.torch import load_file

from interactiveseg.geometry import Box
from interactiveseg.model_card import update_sections
from interactiveseg.model_file import load_model
from interactiveseg.networks import build_network
from interactiveseg.training.cache import TrainingCache, assemble, build_samples
from interactiveseg.training.commands import train_main
from interactiveseg.training.manifest import read_manifest
from interactiveseg.training.samples import make_sample
from interactiveseg.training.trainer import TrainConfig, build_card


def test_cache_round_trip_reproduces_make_sample_exactly(tiny_manifest, tmp_path):
    cases, _ = read_manifest(tiny_manifest)
    volume, labels = cases[0].load()
    card = build_card(TrainConfig(manifest="", output="", dims=2, grid=(None, 16, 16), channels=4))
    parts = list(build_samples(volume, labels, cases[0].structures, card, 3, np.random.default_rng(0), "a", "real"))
    TrainingCache.save(assemble(parts, {"grid_shape": card["input"]["grid_shape"]}), tmp_path / "cache")
    cache = TrainingCache.load(tmp_path / "cache")
    assert len(cache) == 3 * len(cases[0].structures)
    for index, entry in enumerate(cache.entries):
        structure = next(s for s in cases[0].structures if s.name == entry.structure)
        image, target, _ = make_sample(volume, labels, structure.value, Box.from_ijk(entry.box), card)
        cached_image, cached_target = cache.sample(index)
        assert torch.equal(cached_image, image) and torch.equal(cached_target, target)


def test_init_fine_tunes_a_model_and_keeps_its_architecture(tiny_manifest, tmp_path):
    first = tmp_path / "first.safetensors"
    common = ["--data", str(tiny_manifest), "--grid", "16", "16", "--channels", "4", "--device", "cpu",
              "--validation-lesions", "1"]
    assert train_main(common + ["--output", str(first), "--steps", "1"]) == 0
    update_sections(first.with_suffix(".json"), finetune_defaults={"iterations": 7})  # as the defaults search does
    second = tmp_path / "second.safetensors"
    assert train_main(common + ["--output", str(second), "--steps", "1", "--init", str(first), "--lr", "0"]) == 0
    a, b = load_model(first), load_model(second)
    assert b.card["architecture"] == a.card["architecture"] and b.card["training"]["init"] == str(first)
    assert b.card["training"]["init_sha256"] == a.card["sha256"]  # the start, even once the file is replaced
    # measured fine-tuning defaults are inherited, saying on which weights they were searched
    assert b.card["finetune_defaults"] == {"iterations": 7}
    assert b.card["finetune_defaults_search"]["searched_on_sha256"] == a.card["sha256"]
    # a zero learning rate leaves the initial weights: they came from the first model
    assert all(torch.equal(v, b.network.state_dict()[k]) for k, v in a.network.state_dict().items())


RANK_SCRIPT = textwrap.dedent("""
    import os, sys
    from safetensors.torch import save_file
    from interactiveseg.training.trainer import TrainConfig, Trainer
    manifest, output, cache = sys.argv[1:4]
    # The plateau rule with no patience: rank 0's first validation lowers the rate, which every rank must follow.
    config = TrainConfig(manifest=manifest, output=output, cache=cache, dims=2, grid=(None, 16, 16), channels=4,
                         steps=3, batch=4, validate_every=1, schedule="plateau", patience=0, max_drops=5,
                         device="cpu", threads=1, validation_lesions=1)
    trainer = Trainer(config, log=lambda text: None)
    trainer.run(resume=False)
    weights = {k: v.contiguous() for k, v in trainer.network.state_dict().items()}
    save_file(weights, output + f".rank{os.environ['RANK']}")
""")


def test_two_ddp_processes_on_gloo_end_with_the_same_weights(tiny_manifest, tmp_path):
    output, cache = str(tmp_path / "ddp.safetensors"), str(tmp_path / "ddp.cache")
    config = TrainConfig(manifest=str(tiny_manifest), output=output, cache=cache, dims=2, grid=(None, 16, 16),
                         channels=4, steps=0, validation_lesions=1)
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script), str(tiny_manifest), output, cache],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = load_file(output + ".rank0"), load_file(output + ".rank1")
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    start = build_card(config)  # the weights moved from the seeded start: both ranks trained
    torch.manual_seed(0)
    initial = build_network(start["architecture"]).state_dict()
    assert any(not torch.equal(initial[k], rank0[k]) for k in rank0)
    assert load_model(output).card["training"]["processes"] == 2
