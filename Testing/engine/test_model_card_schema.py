"""Every shipped model card, and a card training writes, meets the card schema."""
import dataclasses
import json

import jsonschema
import pytest

from interactiveseg import ModelError
from interactiveseg.model_card import MODELS_DIR, SCHEMA_PATH, SECTION_WRITERS, ModelCard, read_card, update_sections


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


def test_the_schema_and_the_card_type_name_the_same_sections():
    schema = json.loads(SCHEMA_PATH.read_text())
    assert set(schema["properties"]) == set(SECTION_WRITERS) == {f.name for f in dataclasses.fields(ModelCard)}


def test_a_section_no_code_writes_is_refused(tmp_path):
    card = read_card(MODELS_DIR / "default-2d.json")
    path = tmp_path / "m.json"
    path.write_text(json.dumps(dict(card, notes="edited by hand")))
    with pytest.raises(ModelError, match="sections no code writes: notes"):
        read_card(path)
    path.write_text(json.dumps(card))
    with pytest.raises(ValueError, match="not a model card section"):
        update_sections(path, notes="edited by hand")
    assert json.loads(path.read_text()) == card  # the refused update changed nothing
    update_sections(path, limitations=["a limitation"])
    assert read_card(path)["limitations"] == ["a limitation"] and read_card(path)["sha256"] == card["sha256"]
