"""A background stroke inside a region the mask took wrongly removes that region (prior_trust.claimed)."""
import torch

from interactiveseg import Settings
from interactiveseg.finetune import GridState, global_update
from interactiveseg.prior_trust import after_claims, claimed


def chest_like_scene():
    """A bright shell holding two dark cavities, like the chest wall round the lungs; the network was sure
    (p = 0.98) that shell and cavities are all the object. A background stroke lies in cavity A alone.

    Returns (grid state, prior, shell, cavity A, cavity B, the stroke)."""
    shape = (8, 64, 64)
    k, j, i = torch.meshgrid(*(torch.arange(n) for n in shape), indexing="ij")
    body = (j >= 4) & (j < 60) & (i >= 4) & (i < 60) & (k >= 1) & (k < 7)
    cavity_a = (j >= 8) & (j < 56) & (i >= 8) & (i < 29) & (k >= 2) & (k < 6)
    cavity_b = (j >= 8) & (j < 56) & (i >= 35) & (i < 56) & (k >= 2) & (k < 6)
    shell = body & ~cavity_a & ~cavity_b
    noise = 0.03 * torch.randn(shape, generator=torch.Generator().manual_seed(0))
    image = noise + 1.0 * shell
    outside = torch.ones(shape, dtype=torch.bool)  # the margin outside the box
    outside[:, 2:-2, 2:-2] = False
    state = GridState(image, torch.zeros((1, *shape)), (2.0, 1.0, 1.0), 3, outside)
    prior = torch.where(body, torch.tensor(0.98), torch.tensor(0.02))
    stroke = torch.zeros(shape, dtype=torch.bool)
    stroke[4, 30, 17:19] = True
    return state, prior, shell, cavity_a, cavity_b, stroke


def test_a_background_stroke_takes_back_its_cavity_and_leaves_the_rest():
    state, prior, shell, cavity_a, cavity_b, stroke = chest_like_scene()
    nothing = torch.zeros_like(stroke)
    settings = Settings(trust_power=1.0, trust_reach=8.0)
    after = {claims: global_update(state, prior, nothing, stroke, settings.updated(stroke_claims=claims), prior) > 0.5
             for claims in (False, True)}
    assert after[False][cavity_a].float().mean() > 0.5  # without: the network's sureness holds most of it
    assert after[True][cavity_a].float().mean() < 0.05
    assert after[True][cavity_b].float().mean() > 0.95  # no stroke there: the prior stands
    assert after[True][shell].float().mean() > 0.95


def test_the_claim_stops_at_the_mask_s_edges_and_at_foreground_strokes():
    state, prior, shell, cavity_a, _, stroke = chest_like_scene()
    edges = state.walk_edges(10.0)

    def claim(foreground, background, walk_prior=prior):
        return claimed(walk_prior, state.image, foreground, background, state.outside_box, state.spacing, 10.0,
                       edges, 100)

    nothing = torch.zeros_like(stroke)
    share = claim(nothing, stroke)
    assert share[cavity_a].mean() > 0.9
    assert share[shell].max() < 0.5  # the shell is across an edge from the stroke
    # A foreground stroke in the cavity as well: the cavity is no longer the stroke's alone.
    painted = torch.zeros_like(stroke)
    painted[4, 30, 22:24] = True
    shared = claim(painted, stroke)
    assert shared[4, 30, 24:29].max() < 0.5 < shared[4, 30, 8:17].min()  # each stroke's side is its own
    # A stroke on what the prior already calls background, around the mask, claims nothing.
    off_mask = torch.zeros_like(stroke)
    off_mask[4, 3, 3] = True
    assert claim(nothing, off_mask).max() == 0


def test_a_hole_in_the_mask_does_not_bound_the_claim():
    """A fine-tuned network learns an earlier stroke's spot as background: a hole inside the mask, and the
    stroke on it, must not hold the rest of the cavity for the object."""
    state, prior, _, cavity_a, _, stroke = chest_like_scene()
    holed = prior.clone()
    holed[3:6, 28:33, 15:21] = 0.02  # round the stroke
    share = claimed(holed, state.image, torch.zeros_like(stroke), stroke, state.outside_box, state.spacing, 10.0,
                    state.walk_edges(10.0), 100)
    assert share[cavity_a & (holed >= 0.5)].mean() > 0.9


def test_a_claim_on_most_of_the_mask_is_not_made_and_a_smaller_one_is():
    """CLAIM_MOST: a background stroke on the object's own intensity, inside a mask one voxel too wide
    round a uniform object, would claim the whole object; the chest's cavity, a fifth of its mask, is
    still claimed."""
    shape = (10, 32, 32)
    image = 0.02 * torch.randn(shape, generator=torch.Generator().manual_seed(1))
    image[2:8, 5:27, 5:27] += 1.0  # the object
    prior = torch.full(shape, 0.02)
    prior[1:9, 4:28, 4:28] = 0.98  # a voxel too wide all round
    outside = torch.ones(shape, dtype=torch.bool)
    outside[:, 2:-2, 2:-2] = False
    state = GridState(image, torch.zeros((1, *shape)), (1.0, 1.0, 1.0), 3, outside)
    stroke = torch.zeros(shape, dtype=torch.bool)
    stroke[4, 4:6, 15] = True  # on the false rim and the object's edge beside it
    nothing = torch.zeros_like(stroke)
    args = (image, nothing, stroke, outside, state.spacing, 10.0, state.walk_edges(10.0), 100)
    unbounded = after_claims(prior, prior, *args, most=1.0)
    assert float((unbounded < 0.5)[prior >= 0.5].float().mean()) > 0.5  # it would take most of the mask
    assert torch.equal(after_claims(prior, prior, *args), prior)  # so by default it is not made
    chest, chest_prior, _, cavity_a, _, cavity_stroke = chest_like_scene()
    kept = after_claims(chest_prior, chest_prior, chest.image, torch.zeros_like(cavity_stroke), cavity_stroke,
                        chest.outside_box, chest.spacing, 10.0, chest.walk_edges(10.0), 100)
    assert float(kept[cavity_a].mean()) < 0.1
