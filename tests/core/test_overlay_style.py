"""The one overlay style (reasonvos.overlay_style): ground truth as a double contour, prediction as
a fill whose colour stands out from the image, so GT and prediction stay apart on any image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from reasonvos.overlay_style import DARK, LIGHT, PALETTE, choose_style, contour_bands, draw, legend_band


def star(shape: tuple[int, int], centre: tuple[int, int], r: int) -> np.ndarray:
    """A filled five-pointed star."""
    angles = np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2, r * 0.45, r)
    pts = np.stack([centre[0] + radii * np.cos(angles), centre[1] - radii * np.sin(angles)], 1)
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [pts.round().astype(np.int32)], 1)
    return mask.astype(bool)


def lab(rgb) -> np.ndarray:
    return cv2.cvtColor(np.array([[rgb]], np.uint8), cv2.COLOR_RGB2LAB)[0, 0].astype(float)


@pytest.fixture
def yellow_star():
    """Issue #16's case: green, red and yellow objects; the yellow star is the target."""
    img = np.zeros((120, 160, 3), np.uint8)
    img[:] = (40, 160, 40)  # green ground
    img[10:50, 10:60] = (220, 30, 30)  # a red box
    target = star((120, 160), (100, 70), 35)
    img[target] = (250, 220, 0)
    return img, target


def test_the_fill_colour_is_far_from_every_colour_of_the_image(yellow_star):
    img, target = yellow_star
    style = choose_style([img], [target])
    nearest = min(np.linalg.norm(lab(style.fill) - lab(c)) for c in ((40, 160, 40), (220, 30, 30), (250, 220, 0)))
    assert nearest > 60  # OpenCV 8-bit Lab units; red, green and yellow fills would score < 40


def test_the_choice_follows_the_image_not_a_fixed_colour():
    fills = {choose_style([np.full((8, 8, 3), c, np.uint8)]).fill for c in PALETTE}
    assert len(fills) > 1
    for c in PALETTE:
        assert choose_style([np.full((8, 8, 3), c, np.uint8)]).fill != c


def test_gt_is_a_light_band_on_its_boundary_between_dark_bands_and_prediction_a_fill(yellow_star):
    img, target = yellow_star
    pred = np.roll(target, 6, axis=1)  # shifted: half-right prediction
    style = choose_style([img], [target | pred])
    out = draw(img, pred, target, style, width=1)
    dark, light = contour_bands(target, 1)
    assert (out[light] == LIGHT).all() and (out[dark] == DARK).all()
    boundary = target & ~cv2.erode(target.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert (light == boundary).all()  # the light line sits exactly on the GT's boundary pixels
    only_pred = pred & ~target & ~dark
    inside = only_pred & cv2.erode(pred.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    expected = (0.55 * img[inside] + 0.45 * np.array(style.fill)).round()
    assert inside.any() and (np.abs(out[inside].astype(float) - expected) <= 1).all()
    untouched = ~pred & ~dark & ~light
    assert (out[untouched] == img[untouched]).all()


def test_the_legend_shows_both_encodings_in_the_colour_used(yellow_star):
    img, target = yellow_star
    style = choose_style([img], [target])
    band = legend_band(300, style)
    colours = {tuple(p) for p in band.reshape(-1, 3)}
    assert tuple(style.fill) in colours and DARK in colours
    only_pred = legend_band(300, style, gt=False)
    assert tuple(style.fill) in {tuple(p) for p in only_pred.reshape(-1, 3)}
