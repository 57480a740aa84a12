"""Bjøntegaard deltas give the known answers on curves whose relation is exact."""

import math

import numpy as np
import pytest

from aecodec.eval.bdrate import BDWarning, bd_psnr, bd_rate

RATES = [0.1, 0.25, 0.5, 1.0, 2.0]
PSNR = [26.0, 29.5, 32.0, 35.5, 38.0]


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_half_the_rate_at_equal_quality_is_minus_50_percent(method):
    half = [r / 2 for r in RATES]
    assert bd_rate(RATES, PSNR, half, PSNR, method=method) == pytest.approx(-50, abs=0.1)


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_identical_curves_differ_by_nothing(method):
    assert bd_rate(RATES, PSNR, RATES, PSNR, method=method) == pytest.approx(0, abs=1e-9)
    assert bd_psnr(RATES, PSNR, RATES, PSNR, method=method) == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_a_curve_one_db_higher_has_bd_psnr_plus_one(method):
    higher = [p + 1 for p in PSNR]
    assert bd_psnr(RATES, PSNR, RATES, higher, method=method) == pytest.approx(1, abs=1e-9)
    assert bd_rate(RATES, PSNR, RATES, higher, method=method) < 0


def test_swapping_anchor_and_test_inverts_the_rate_ratio():
    other = [r * f for r, f in zip(RATES, [0.7, 0.8, 0.75, 0.9, 0.85], strict=True)]
    forward = 1 + bd_rate(RATES, PSNR, other, PSNR) / 100
    backward = 1 + bd_rate(other, PSNR, RATES, PSNR) / 100
    assert forward * backward == pytest.approx(1, abs=1e-12)


def test_point_order_does_not_matter():
    order = [3, 0, 4, 1, 2]
    test_rates = [r * 0.8 for r in RATES]
    expected = bd_rate(RATES, PSNR, test_rates, PSNR)
    shuffled = bd_rate([RATES[i] for i in order], [PSNR[i] for i in order], test_rates, PSNR)
    assert shuffled == pytest.approx(expected, abs=1e-12)


def test_only_the_overlapping_quality_range_counts():
    # Log-rate linear in PSNR, so interpolating any subset of the points is exact. The test
    # curve exists only over the upper half of the range, where it needs half the rate.
    psnr = np.linspace(26, 38, 7)
    rates = np.exp((psnr - 32) / 5)
    assert bd_rate(rates, psnr, rates[3:] / 2, psnr[3:]) == pytest.approx(-50, abs=0.1)


def test_curves_that_do_not_overlap_give_nan_and_say_why():
    with pytest.warns(BDWarning, match="do not overlap"):
        assert math.isnan(bd_rate(RATES, PSNR, RATES, [p + 20 for p in PSNR]))
    with pytest.warns(BDWarning, match="do not overlap"):
        assert math.isnan(bd_psnr(RATES, PSNR, [r * 100 for r in RATES], PSNR))


def test_too_few_points_for_a_cubic_gives_nan():
    with pytest.warns(BDWarning, match="distinct points"):
        assert math.isnan(bd_rate(RATES, PSNR, RATES[:3], PSNR[:3], method="cubic"))


def test_bad_input_is_an_error():
    with pytest.raises(ValueError, match="positive"):
        bd_rate([0.0, 1.0], [30, 35], [0.5, 1.0], [30, 35])
    with pytest.raises(ValueError, match="method"):
        bd_rate(RATES, PSNR, RATES, PSNR, method="spline")


def test_agrees_with_the_bjontegaard_package():
    bjontegaard = pytest.importorskip("bjontegaard")
    rng = np.random.default_rng(1)
    test_rates = np.array(RATES) * rng.uniform(0.6, 0.9, len(RATES))
    test_psnr = np.array(PSNR) + rng.uniform(-0.3, 0.3, len(PSNR))
    ours = bd_rate(RATES, PSNR, test_rates, test_psnr)
    theirs = bjontegaard.bd_rate(RATES, PSNR, test_rates, test_psnr, method="pchip")
    assert ours == pytest.approx(theirs, abs=1e-6)
