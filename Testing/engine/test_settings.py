"""Settings in one place: from a card, overridden by dotted keys, and back to plain values."""
from __future__ import annotations

import json

import pytest

from interactiveseg import InputError
from interactiveseg.settings import CrfParameters, Settings


def test_overrides_take_plain_dotted_and_nested_crf_keys():
    base = Settings()
    changed = base.with_overrides({"iterations": 7, "crf.iterations": 3, "crf": {"appearance_weight": 2.0}})
    assert changed.iterations == 7 and changed.crf.iterations == 3 and changed.crf.appearance_weight == 2.0
    assert changed.crf.smoothness_weight == base.crf.smoothness_weight  # the rest of the CRF stays
    assert base.iterations == Settings().iterations  # frozen: the original is unchanged


def test_as_dict_is_json_and_round_trips():
    settings = Settings(omega=2.0, crf=CrfParameters(iterations=9))
    values = json.loads(json.dumps(settings.as_dict()))
    assert values["crf"]["iterations"] == 9
    assert Settings().with_overrides(values) == settings


@pytest.mark.parametrize("overrides, message", [({"omegaa": 1.0}, "Unknown setting"),
                                                ({"crf.sigma": 1.0}, "Unknown CRF setting"),
                                                ({"t0": 0.9, "t1": 0.1}, "t0 < t1"),
                                                ({"omega": "10"}, "omega must be a number"),
                                                ({"iterations": 2.5}, "iterations must be a whole number"),
                                                ({"keep_connected": "yes"}, "must be true or false"),
                                                ({"walk_gamma": True}, "walk_gamma must be a number"),
                                                ({"balance_power": 1.5}, "balance_power must be from 0 to 1"),
                                                ({"crf.iterations": 2.5}, "crf.iterations must be a whole")])
def test_bad_overrides_are_refused(overrides, message):
    with pytest.raises(InputError, match=message):
        Settings().with_overrides(overrides)


def test_the_panel_shows_the_card_defaults():
    card = {"finetune_defaults": {"iterations": 40, "learning_rate": 0.003, "crf": {"appearance_weight": 2.0}}}
    values = Settings.from_card(card).panel_values()
    assert list(values) == list(Settings.PANEL_FIELDS)
    assert values["iterations"] == 40 and values["learning_rate"] == 0.003 and values["omega"] == Settings().omega


def test_a_card_and_overrides_as_a_worker_gets_them():
    card = {"finetune_defaults": {"omega": 20.0, "crf": {"appearance_weight": 2.0}}}
    settings = Settings.from_card(card, iterations=3, crf={"iterations": 2}, native_beta=None)
    assert (settings.omega, settings.iterations, settings.crf.iterations, settings.crf.appearance_weight) == \
        (20.0, 3, 2, 2.0)
    with pytest.raises(InputError, match="whole number"):
        Settings.from_card(card, iterations="3")
