"""Synthetic lesions for the interactive evaluation: reproducible, labelled where the image changed."""

from interactiveseg.evaluation.cases import lesion_tasks
from interactiveseg.training.manifest import read_manifest


def test_lesion_tasks_are_reproducible_and_their_labels_cover_the_change(tiny_manifest):
    tasks = lesion_tasks(tiny_manifest, "report", per_case=2)
    again = lesion_tasks(tiny_manifest, "report", per_case=2)
    assert len(tasks) == 6 and {t.role for t in tasks} == {"lesion"}
    assert len({t.case for t in tasks}) == 6  # each lesion is its own case: its own box and strokes
    originals = {case.case_id: case.load()[0] for case in read_manifest(tiny_manifest)[0]}
    for task, repeat in zip(tasks, again):
        assert (task.reference == repeat.reference).all() and task.reference.sum() >= 20
        original = originals[task.case.split("/")[0]].array
        changed = task.volume.array != original
        assert changed.any() and not (changed & ~task.reference).any()
    assert lesion_tasks(tiny_manifest, "development", per_case=2) == []  # no development subject here
    assert lesion_tasks(tiny_manifest, "report", per_case=0) == []
