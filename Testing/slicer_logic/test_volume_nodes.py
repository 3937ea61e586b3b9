"""Volume nodes to engine volumes: voxel order (k, j, i), RAS vs LPS, refusing what cannot be segmented."""
import numpy as np
import pytest

import slicer
from interactiveseg import Box, InputError

from slicer_scene import add_volume, rotation
from InteractiveSegLib.matrices import ijk_to_ras
from InteractiveSegLib.volume_nodes import region_ijk_to_ras, volume_from_node, write_region_volume


def test_volume_keeps_voxel_order_and_geometry(scene):
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)  # (k, j, i)
    directions = rotation("S", 30) @ rotation("R", 10)
    node = add_volume(scene, array, spacing=(0.5, 0.8, 2.0), origin=(10, -20, 30), directions=directions)
    volume = volume_from_node(node)
    assert volume.shape == (4, 5, 6)
    assert volume.array[3, 2, 1] == array[3, 2, 1]
    np.testing.assert_allclose(volume.spacing, (0.5, 0.8, 2.0))
    np.testing.assert_allclose(volume.ijk_to_ras(), ijk_to_ras(node), atol=1e-9)
    # The engine's origin is LPS: x and y flip sign, z does not.
    np.testing.assert_allclose(volume.origin, (-10, 20, 30), atol=1e-9)


def test_volume_is_a_copy(scene):
    node = add_volume(scene, np.arange(60, dtype=np.float32).reshape(3, 4, 5))
    volume = volume_from_node(node)
    slicer.util.arrayFromVolume(node)[:] = 0  # the user keeps working while the engine computes
    assert volume.array.max() == 59


@pytest.mark.parametrize("components, message", [(3, "RGB"), (5, "4D")])
def test_multicomponent_volumes_are_refused_with_a_message(scene, components, message):
    array = np.random.default_rng(0).integers(0, 255, (4, 5, 6, components)).astype(np.uint8)
    node = add_volume(scene, array, node_class="vtkMRMLVectorVolumeNode", name="colour")
    with pytest.raises(InputError, match=message) as error:
        volume_from_node(node)
    assert "colour" in str(error.value)


def test_missing_or_empty_volume(scene):
    with pytest.raises(InputError, match="Select a source volume"):
        volume_from_node(None)
    empty = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "empty")
    with pytest.raises(InputError, match="no image data"):
        volume_from_node(empty)
    constant = add_volume(scene, np.full((3, 4, 5), 7, dtype=np.int16), name="flat")
    with pytest.raises(InputError, match="constant"):
        volume_from_node(constant)


def test_region_volume_overlays_the_same_voxels(scene):
    directions = rotation("A", 25)
    node = add_volume(scene, np.random.default_rng(1).normal(size=(6, 7, 8)).astype(np.float32),
                      spacing=(1.5, 1.0, 2.5), origin=(3, 4, 5), directions=directions)
    region = Box((2, 1, 3), (6, 5, 4))
    values = np.arange(2 * 5 * 5, dtype=np.float32).reshape(2, 5, 5)
    overlay = write_region_volume(scene, None, "overlay", values, node, region)
    # Voxel (0, 0, 0) of the overlay sits on voxel (2, 1, 3) of the volume, and so on.
    full, part = ijk_to_ras(node), ijk_to_ras(overlay)
    for ijk in [(0, 0, 0), (4, 4, 1), (1, 3, 0)]:
        np.testing.assert_allclose(part @ [*ijk, 1], full @ [ijk[0] + 2, ijk[1] + 1, ijk[2] + 3, 1], atol=1e-9)
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(overlay), values)
    np.testing.assert_allclose(region_ijk_to_ras(node, region), part, atol=1e-9)
    # Writing again reuses the node.
    assert write_region_volume(scene, overlay, "overlay", values * 2, node, region) is overlay
    assert slicer.util.arrayFromVolume(overlay).max() == values.max() * 2
