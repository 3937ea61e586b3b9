"""A DICOM series folder reads as one volume with its patient geometry (LPS), as Slicer loads it."""
import numpy as np
import pytest
import SimpleITK as sitk

from interactiveseg import InputError, read_volume

SPACING = (0.7, 0.9, 2.5)  # i, j, k in mm
ORIGIN = (-120.0, -95.5, 40.0)


def write_series(folder, array: np.ndarray, slope: float = 1.0, intercept: float = -1024.0):
    """One file per slice, with the tags a scanner writes for position, orientation and rescale.

    The writer stores (value - intercept) / slope, as scanners do, so reading back the
    Hounsfield units checks that the reader applies the rescale.
    """
    folder.mkdir()
    series_uid = "1.2.826.0.1.3680043.2.1125.1.42"
    for k in range(array.shape[0]):
        image = sitk.GetImageFromArray(array[k:k + 1].astype(np.int16))
        image.SetSpacing(SPACING)
        position = (ORIGIN[0], ORIGIN[1], ORIGIN[2] + k * SPACING[2])
        tags = {
            "0008|0060": "CT",
            "0020|000d": "1.2.826.0.1.3680043.2.1125.1.41",
            "0020|000e": series_uid,
            "0020|0013": str(k + 1),
            "0020|0032": "\\".join(f"{v:.4f}" for v in position),
            "0020|0037": "1\\0\\0\\0\\1\\0",
            "0028|0030": f"{SPACING[1]}\\{SPACING[0]}",  # row spacing (j), then column spacing (i)
            "0018|0050": str(SPACING[2]),
            "0028|1052": f"{intercept:g}",
            "0028|1053": f"{slope:g}",
        }
        for key, value in tags.items():
            image.SetMetaData(key, value)
        writer = sitk.ImageFileWriter()
        writer.KeepOriginalImageUIDOn()
        # names in reverse order: the slice order must come from the positions
        writer.SetFileName(str(folder / f"slice{array.shape[0] - k:03d}.dcm"))
        writer.Execute(image)


def test_dicom_folder_reads_with_geometry_and_hounsfield_units(tmp_path):
    rng = np.random.default_rng(0)
    expected = rng.integers(-1000, 1500, size=(6, 10, 12)).astype(np.float32)
    folder = tmp_path / "series"
    write_series(folder, expected)
    volume = read_volume(folder, modality="auto")
    assert volume.shape == expected.shape
    np.testing.assert_allclose(volume.array, expected, atol=0.5)
    np.testing.assert_allclose(volume.spacing, SPACING, rtol=1e-4)
    np.testing.assert_allclose(volume.origin, ORIGIN, atol=1e-3)
    np.testing.assert_allclose(volume.direction, np.eye(3), atol=1e-6)
    # DICOM positions are LPS; Slicer's RAS flips the first two axes
    np.testing.assert_allclose(volume.ijk_to_ras() @ [2, 3, 5, 1],
                               [-(ORIGIN[0] + 2 * SPACING[0]), -(ORIGIN[1] + 3 * SPACING[1]),
                                ORIGIN[2] + 5 * SPACING[2], 1],
                               atol=1e-3)


def test_folder_without_dicom_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(InputError, match="No DICOM series"):
        read_volume(tmp_path)
