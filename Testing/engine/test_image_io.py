import hashlib

import numpy as np
import pytest
import SimpleITK as sitk
import slicerio

from interactiveseg import InputError, Volume, read_volume, write_labelmap, write_segmentation
from interactiveseg.demo import SAMPLE_IMAGE

from engine_fixtures import oblique_direction


def oblique_volume():
    array = np.random.default_rng(3).integers(0, 1000, size=(5, 6, 7)).astype(np.int16)
    return Volume(array, spacing=(0.8, 1.1, 3.0), origin=(12.5, -40.0, 7.25), direction=oblique_direction())


@pytest.mark.parametrize("name", ["mask.nrrd", "mask.nii.gz"])
def test_labelmap_keeps_the_image_geometry(tmp_path, name):
    volume = oblique_volume()
    mask = volume.array > 500
    path = write_labelmap(tmp_path / name, mask, volume)
    back = read_volume(path)
    np.testing.assert_array_equal(back.array, mask.astype(np.uint8))
    np.testing.assert_allclose(back.spacing, volume.spacing, rtol=1e-6)
    np.testing.assert_allclose(back.origin, volume.origin, atol=1e-4)
    np.testing.assert_allclose(back.direction, volume.direction, atol=1e-5)


def test_segmentation_file_reads_in_slicerio_with_geometry_and_extent(tmp_path):
    volume = oblique_volume()
    mask = np.zeros(volume.shape, dtype=bool)
    mask[1:3, 2:5, 3:6] = True
    path = write_segmentation(tmp_path / "out.seg.nrrd", {"liver": mask}, volume)
    seg = slicerio.read_segmentation(str(path))
    segment = seg["segments"][0]
    assert segment["name"] == "liver" and segment["labelValue"] == 1
    assert segment["extent"] == [3, 5, 2, 4, 1, 2]  # i0 i1 j0 j1 k0 k1
    voxels = seg["voxels"]  # slicerio gives (i, j, k)
    np.testing.assert_array_equal(voxels.transpose(2, 1, 0) == 1, mask)
    np.testing.assert_allclose(seg["ijkToLPS"], volume.ijk_to_lps(), atol=1e-4)


def test_writing_fails_cleanly_without_partial_files(tmp_path):
    volume = oblique_volume()
    with pytest.raises(InputError, match="shape"):
        write_labelmap(tmp_path / "m.nrrd", np.zeros((2, 2, 2)), volume)
    with pytest.raises(InputError, match="must end with"):
        write_labelmap(tmp_path / "m.png", volume.array > 0, volume)
    with pytest.raises(InputError, match="folder does not exist"):
        write_labelmap(tmp_path / "missing" / "m.nrrd", volume.array > 0, volume)
    assert list(tmp_path.iterdir()) == []


def test_reading_does_not_modify_the_file():
    digest = hashlib.sha256(SAMPLE_IMAGE.read_bytes()).hexdigest()
    read_volume(SAMPLE_IMAGE)
    assert hashlib.sha256(SAMPLE_IMAGE.read_bytes()).hexdigest() == digest


def test_unreadable_and_vector_images_are_refused(tmp_path):
    junk = tmp_path / "junk.nrrd"
    junk.write_bytes(b"this is not an image")
    with pytest.raises(InputError, match="Cannot read"):
        read_volume(junk)
    rgb = sitk.Image([6, 5, 4], sitk.sitkVectorUInt8, 3)
    sitk.WriteImage(rgb, str(tmp_path / "rgb.nrrd"))
    with pytest.raises(InputError, match="RGB"):
        read_volume(tmp_path / "rgb.nrrd")
    series = sitk.JoinSeries([sitk.GetImageFromArray(np.random.default_rng(0).random((3, 4, 5)))] * 2)
    sitk.WriteImage(series, str(tmp_path / "t.nii.gz"))
    with pytest.raises(InputError, match="4D"):
        read_volume(tmp_path / "t.nii.gz")
    with pytest.raises(InputError, match="not found"):
        read_volume(tmp_path / "absent.nrrd")


def test_overlapping_segments_keep_every_voxel_through_slicerio_and_slicer(tmp_path):
    """Two segments sharing voxels: slicerio reads both whole, and so does Slicer's own storage node."""
    volume = oblique_volume()
    first, second = np.zeros(volume.shape, bool), np.zeros(volume.shape, bool)
    first[1:4, 1:5, 1:5] = True
    second[2:5, 3:6, 3:7] = True  # overlaps `first`
    assert (first & second).any()
    path = write_segmentation(tmp_path / "two.seg.nrrd", {"liver": first, "tumour": second}, volume,
                              colors={"tumour": (1.0, 1.0, 0.0)})
    seg = slicerio.read_segmentation(str(path))
    assert [s["name"] for s in seg["segments"]] == ["liver", "tumour"]
    assert seg["segments"][1]["color"] == [1.0, 1.0, 0.0]
    for segment, mask in zip(seg["segments"], (first, second)):
        voxels = seg["voxels"] if seg["voxels"].ndim == 3 else seg["voxels"][segment["layer"]]
        np.testing.assert_array_equal(voxels.transpose(2, 1, 0) == segment["labelValue"], mask)

    import slicer  # slicer-core, as the Slicer logic tests use
    scene = slicer.vtkMRMLScene()
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    storage = scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
    storage.SetFileName(str(path))
    assert storage.ReadData(node)
    segmentation = node.GetSegmentation()
    assert segmentation.GetNumberOfSegments() == 2
    from vtk.util import numpy_support
    for index, mask in enumerate((first, second)):
        segment_id = segmentation.GetNthSegmentID(index)
        labelmap = slicer.vtkOrientedImageData()
        slicer.vtkSlicerSegmentationsModuleLogic.GetSegmentBinaryLabelmapRepresentation(node, segment_id, labelmap,
                                                                                          False)
        extent = labelmap.GetExtent()
        values = numpy_support.vtk_to_numpy(labelmap.GetPointData().GetScalars()).reshape(
            extent[5] - extent[4] + 1, extent[3] - extent[2] + 1, extent[1] - extent[0] + 1)
        inside = values == segmentation.GetSegment(segment_id).GetLabelValue()
        full = np.zeros(volume.shape, bool)
        full[extent[4]:extent[5] + 1, extent[2]:extent[3] + 1, extent[0]:extent[1] + 1] = inside
        np.testing.assert_array_equal(full, mask)
