"""Every shipped model card, and a card training writes, meets the card schema."""
import json

import jsonschema
import pytest

from interactiveseg.model_card import MODELS_DIR, SCHEMA_PATH, read_card


def validator():
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("card", sorted(MODELS_DIR.glob("default-*.json")), ids=lambda p: p.name)
def test_shipped_cards_meet_the_schema(card):
    errors = sorted(validator().iter_errors(read_card(card)), key=str)
    assert not errors, "; ".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5])


def test_the_schema_refuses_a_broken_card():
    card = read_card(MODELS_DIR / "default-2d.json")
    broken = dict(card, sha256="not a checksum", architecture=dict(card["architecture"], dims=4))
    assert len(list(validator().iter_errors(broken))) == 2
