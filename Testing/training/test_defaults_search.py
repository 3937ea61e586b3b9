"""The fine-tuning defaults search: development subjects only, every trial recorded, the card written."""
import json

import pytest

from interactiveseg.evaluation import defaults_search
from interactiveseg.model_file import load_model

from tiny_models import save_tiny_model


def test_search_scores_development_tasks_only_and_writes_what_it_chose(split_manifest, tmp_path):
    model_path = save_tiny_model(tmp_path / "tiny.safetensors", (12, 32, 32), channels=6, class_bias=(1.5, -1.5))
    output = tmp_path / "search.json"
    assert defaults_search.main(["--manifest", str(split_manifest), "--model", str(model_path), "--rounds", "1",
                                 "--lesions", "1", "--output", str(output), "--write-card"]) == 0
    result = json.loads(output.read_text())
    assert result["complete"]
    assert result["data"]["structures"] == ["ts-mr/round (seen)", "ts-mr/oval (seen)",
                                           "ts-mr/lesion0/lesion0 (lesion)"]
    full = [t for t in result["trials"] if t["method"] == "full"]
    assert set(full[0]["parts"]) == {"structures", "lesions"}
    assert full[0]["score"] == pytest.approx(sum(full[0]["parts"].values()) / 2, abs=1e-4)
    for trial in full[1:]:  # each trial moves one candidate on top of what was kept before it
        assert any(dict(trial["overrides"], **c) == trial["overrides"] for c in defaults_search.CANDIDATES)
    chosen = [t for t in full if t["overrides"] == result["changed"]]
    assert result["best_score"] == chosen[0]["score"] >= full[0]["score"]
    assert [t["beta"] for t in result["trials"] if t["method"] == "random_walker"] == list(defaults_search.BETAS)
    card = load_model(model_path).card
    assert card["finetune_defaults"] == result["finetune_defaults"]
    assert card["finetune_defaults_search"]["changed"] == result["changed"]
    assert card["finetune_defaults_search"]["searched_on_sha256"] == card["sha256"]


def test_a_follow_up_search_tries_only_its_candidates_and_keeps_the_earlier_record(split_manifest, tmp_path):
    model_path = save_tiny_model(tmp_path / "tiny.safetensors", (12, 32, 32), channels=6, class_bias=(1.5, -1.5))
    common = ["--manifest", str(split_manifest), "--model", str(model_path), "--rounds", "1", "--skip-beta",
              "--write-card"]
    first = tmp_path / "first.json"
    assert defaults_search.main(common + ["--candidates", '[{"walk_gamma": 0.002}]', "--output", str(first)]) == 0
    earlier = load_model(model_path).card["finetune_defaults_search"]
    candidate = {"trust_power": 1.0, "trust_reach": 8.0}
    output = tmp_path / "follow-up.json"
    assert defaults_search.main(common + ["--candidates", json.dumps([candidate]), "--output", str(output)]) == 0
    result = json.loads(output.read_text())
    assert [t["overrides"] for t in result["trials"]] == [{}, candidate]  # the defaults, then the one candidate
    record = load_model(model_path).card["finetune_defaults_search"]
    assert record["earlier_searches"] == [earlier]
    assert set(result["finetune_defaults"]) >= {"trust_power", "trust_reach"}


def test_a_bad_candidate_is_refused_before_any_trial(split_manifest, tmp_path):
    model_path = save_tiny_model(tmp_path / "tiny.safetensors", (12, 32, 32), channels=6, class_bias=(1.5, -1.5))
    output = tmp_path / "search.json"
    from interactiveseg import InputError
    for bad in ('[{"no_such_setting": 1}]', '[{"trust_power": -1}]', '{"walk_gamma": 0.01}'):
        with pytest.raises(InputError):
            defaults_search.main(["--manifest", str(split_manifest), "--model", str(model_path), "--candidates", bad,
                                  "--output", str(output)])
    assert not output.exists()
