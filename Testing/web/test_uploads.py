"""Storing a browser upload: its own name, inside the upload folder, never over an earlier file."""
import pytest

from interactiveseg import InputError
from interactiveseg_web.uploads import store_upload


def test_a_name_with_folders_is_stored_by_its_base_name_only(tmp_path):
    folder = tmp_path / "uploads"
    path = store_upload("../../etc/brain.nii.gz", b"\x1f\x8b data", folder)
    assert path == folder / "brain.nii.gz" and path.read_bytes() == b"\x1f\x8b data"
    again = store_upload("brain.nii.gz", b"other", folder)
    assert again == folder / "brain-2.nii.gz"  # the double suffix stays whole
    assert path.read_bytes() == b"\x1f\x8b data"


@pytest.mark.parametrize("name", ["notes.txt", ".nrrd", "", "series.zip"])
def test_names_that_are_not_single_image_files_are_refused(tmp_path, name):
    with pytest.raises(InputError):
        store_upload(name, b"x", tmp_path / "uploads")
    assert not (tmp_path / "uploads").exists()
