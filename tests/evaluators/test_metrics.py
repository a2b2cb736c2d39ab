"""Per-frame J and F agree with the slow reference written from the spec, on every frame."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reasonvos.evaluators.metrics import (
    boundary_f,
    boundary_radius,
    dilate,
    disk,
    frame_scores,
    jaccard,
    seg2bmap,
)
from reference_metrics import ref_boundary, ref_covered, ref_f, ref_j, ref_radius

TOL = 1e-12


def both(gt, pred, void=None, bound_th=0.008):
    s = frame_scores(gt, pred, void, bound_th)
    return s.j, s.f


def assert_matches_reference(gt, pred, void=None, bound_th=0.008):
    s = frame_scores(gt, pred, void, bound_th)
    assert abs(s.j - ref_j(gt, pred, void)) <= TOL
    assert abs(s.f - ref_f(gt, pred, void, bound_th)) <= TOL


# ----------------------------------------------------------------------------- radius and disk


@pytest.mark.parametrize(
    ("h", "w", "r"),
    [(240, 427, 4), (360, 640, 6), (480, 854, 8), (480, 910, 9), (600, 800, 8), (720, 1280, 12),
     (1080, 1920, 18), (2160, 3840, 36)],
)
def test_radius_is_ceil_of_0008_times_diagonal(h, w, r):
    assert boundary_radius((h, w)) == r == ref_radius(h, w)


def test_bound_th_of_one_or_more_is_a_radius_in_pixels():
    assert boundary_radius((100, 100), 3) == 3


def test_disk_equals_skimage_disk():
    morphology = pytest.importorskip("skimage.morphology")
    for r in (1, 2, 4, 8, 9, 18):
        assert np.array_equal(disk(r), morphology.disk(r).astype(np.uint8))


@pytest.mark.parametrize("r", [1, 3, 6])
def test_dilation_equals_squared_distance_rule(r):
    rng = np.random.default_rng(r)
    b = rng.random((17, 23)) < 0.04
    assert np.array_equal(dilate(b, r), ref_covered(b, r))


@pytest.mark.parametrize("r", [0, 1, 2, 4, 8, 9, 12, 18, 36])
def test_dilation_equals_official_cv2_dilate_with_the_disk(r):
    import cv2

    rng = np.random.default_rng(r)
    b = rng.random((90, 120)) < 0.01
    official = cv2.dilate(b.astype(np.uint8), disk(r)).astype(bool)
    assert np.array_equal(dilate(b, r), official)


# ----------------------------------------------------------------------------- boundary map


def test_single_interior_pixel_has_four_boundary_pixels():
    s = np.zeros((7, 9), bool)
    s[3, 4] = True
    b = seg2bmap(s)
    assert set(zip(*np.nonzero(b), strict=True)) == {(3, 4), (3, 3), (2, 4), (2, 3)}
    assert np.array_equal(b, ref_boundary(s))


def test_full_frame_and_empty_masks_have_no_boundary():
    assert not seg2bmap(np.ones((5, 6), bool)).any()
    assert not seg2bmap(np.zeros((5, 6), bool)).any()


def test_the_image_border_is_never_a_boundary():
    s = np.zeros((6, 8), bool)
    s[:, :3] = True  # touches top, bottom and left border
    b = seg2bmap(s)
    assert np.array_equal(b, ref_boundary(s))
    assert set(np.nonzero(b)[1]) == {2}  # only the interior vertical edge


def test_crop_edge_inside_the_image_is_zero_padded():
    s = np.zeros((4, 4), bool)
    s[3, 3] = True
    # as a whole image, the bottom-right pixel is never a boundary...
    assert not seg2bmap(s)[3, 3]
    # ...but inside a larger image the pixel below/right is background, so it is one
    assert seg2bmap(s, bottom_is_border=False, right_is_border=False)[3, 3]


# ----------------------------------------------------------------------------- edge cases


def test_both_empty_scores_one():
    z = np.zeros((10, 12), bool)
    assert both(z, z) == (1.0, 1.0)
    assert frame_scores(z, None) == frame_scores(z, z)


def test_empty_prediction_on_object():
    gt = np.zeros((10, 12), bool)
    gt[2:5, 3:7] = True
    assert both(gt, np.zeros_like(gt)) == (0.0, 0.0)
    assert both(gt, None) == (0.0, 0.0)


def test_full_frame_gt_has_no_boundary_so_empty_prediction_gets_f_one():
    gt = np.ones((10, 12), bool)
    assert both(gt, np.zeros_like(gt)) == (0.0, 1.0)


def test_full_frame_prediction_on_empty_gt_gets_f_one():
    assert both(np.zeros((10, 12), bool), np.ones((10, 12), bool)) == (0.0, 1.0)


def test_full_frame_prediction_on_partial_gt():
    gt = np.zeros((10, 12), bool)
    gt[2:5, 3:7] = True
    j, f = both(gt, np.ones_like(gt))
    assert j == 12 / 120 and f == 0.0


def test_full_frame_both():
    full = np.ones((10, 12), bool)
    assert both(full, full) == (1.0, 1.0)


def test_non_empty_prediction_on_empty_gt():
    pred = np.zeros((10, 12), bool)
    pred[4, 4] = True
    assert both(np.zeros_like(pred), pred) == (0.0, 0.0)


def test_any_non_zero_value_is_foreground():
    gt = np.zeros((10, 12), np.uint8)
    gt[2:6, 2:6] = 1
    pred = gt * 255
    assert both(gt, pred) == (1.0, 1.0)


def test_void_pixels_are_removed_from_both_masks():
    gt = np.zeros((10, 12), bool)
    gt[2:6, 2:6] = True
    pred = gt.copy()
    pred[7:9, 7:10] = True
    void = np.zeros_like(gt)
    void[7:9, 7:10] = True
    assert both(gt, pred, void) == (1.0, 1.0)
    assert_matches_reference(gt, pred, void)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        frame_scores(np.zeros((4, 4), bool), np.zeros((4, 5), bool))


def test_counts_are_intersection_and_union():
    gt = np.zeros((8, 8), bool)
    gt[0:4, 0:4] = True
    pred = np.zeros((8, 8), bool)
    pred[2:6, 2:6] = True
    s = frame_scores(gt, pred)
    assert (s.inter, s.union) == (4, 28)
    assert jaccard(gt, pred) == 4 / 28
    assert boundary_f(gt, pred) == s.f


@pytest.mark.parametrize(
    "case",
    ["corner_tl", "corner_br", "last_row", "last_col", "single_br", "lines", "checker"],
)
@pytest.mark.parametrize("bound_th", [0.008, 1, 2, 4])
def test_hand_made_cases_match_reference(case, bound_th):
    h, w = 9, 13
    gt = np.zeros((h, w), bool)
    pred = np.zeros((h, w), bool)
    if case == "corner_tl":
        gt[:3, :4] = True
        pred[:4, :3] = True
    elif case == "corner_br":
        gt[-3:, -4:] = True
        pred[-4:, -2:] = True
    elif case == "last_row":
        gt[-1, 2:9] = True
        pred[-2:, 3:10] = True
    elif case == "last_col":
        gt[1:7, -1] = True
        pred[2:8, -2:] = True
    elif case == "single_br":
        gt[-1, -1] = True
        pred[-2, -2] = True
    elif case == "lines":
        gt[::2] = True
        pred[:, ::3] = True
    else:
        gt[(np.indices((h, w)).sum(0) % 2) == 0] = True
        pred[3:6, 3:6] = True
    assert_matches_reference(gt, pred, bound_th=bound_th)
    assert_matches_reference(pred, gt, bound_th=bound_th)


# ----------------------------------------------------------------------------- random masks


@st.composite
def mask_pairs(draw):
    h = draw(st.integers(1, 14))
    w = draw(st.integers(1, 16))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    style = draw(st.sampled_from(["noise", "blobs", "sparse"]))

    def one():
        if style == "noise":
            return rng.random((h, w)) < rng.random()
        if style == "sparse":
            return rng.random((h, w)) < 0.05
        m = np.zeros((h, w), bool)
        for _ in range(rng.integers(0, 3)):
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            m[y0 : y0 + rng.integers(1, h + 1), x0 : x0 + rng.integers(1, w + 1)] = True
        return m

    void = (rng.random((h, w)) < 0.1) if draw(st.booleans()) else None
    bound_th = draw(st.sampled_from([0.008, 0.1, 1, 2, 3]))
    return one(), one(), void, bound_th


@settings(max_examples=150, deadline=None)
@given(mask_pairs())
def test_random_masks_match_reference(case):
    gt, pred, void, bound_th = case
    assert_matches_reference(gt, pred, void, bound_th)


def test_small_object_in_large_frame_matches_uncropped_reference():
    rng = np.random.default_rng(7)
    gt = np.zeros((40, 50), bool)
    pred = np.zeros((40, 50), bool)
    gt[10:18, 20:31] = rng.random((8, 11)) < 0.7
    pred[12:20, 22:30] = rng.random((8, 8)) < 0.7
    for bound_th in (0.008, 2, 5):
        assert_matches_reference(gt, pred, bound_th=bound_th)


def official_style_f(gt, pred, bound_th=0.008):
    """The official formulation: full-frame boundary maps, cv2.dilate with the disk, no crop."""
    import cv2

    r = boundary_radius(gt.shape, bound_th)
    gb, fb = seg2bmap(gt), seg2bmap(pred)
    gd = cv2.dilate(gb.astype(np.uint8), disk(r)).astype(bool)
    fd = cv2.dilate(fb.astype(np.uint8), disk(r)).astype(bool)
    n_fg, n_gt = fb.sum(), gb.sum()
    if n_fg == 0 or n_gt == 0:
        return ref_f(gt, pred, bound_th=bound_th)
    p, rc = (fb & gd).sum() / n_fg, (gb & fd).sum() / n_gt
    return 0.0 if p + rc == 0 else 2 * p * rc / (p + rc)


def test_cropping_does_not_change_f_on_a_larger_frame():
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:120, :200]
    for _ in range(20):
        cy, cx = rng.integers(-10, 130), rng.integers(-10, 210)
        gt = (yy - cy) ** 2 / rng.integers(4, 900) + (xx - cx) ** 2 / rng.integers(4, 900) < 1
        pred = np.roll(gt, tuple(rng.integers(-3, 4, 2)), axis=(0, 1))
        pred[rng.integers(0, 120), rng.integers(0, 200)] = True
        assert abs(frame_scores(gt, pred).f - official_style_f(gt, pred)) <= TOL
