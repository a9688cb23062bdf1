"""Tests for peakdesk.demand.profiles: day totals, intraday shape, partial bins."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from peakdesk.demand.profiles import (
    NORMAL_HOURLY,
    Double11Shape,
    PromoShape,
    double11_weights,
    flat_weights,
    promo_weights,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
PEAK = date(2024, 11, 11)
SHAPE = Double11Shape(peak_date=PEAK, presale_wave_dates=(date(2024, 10, 31), date(2024, 11, 10)))


def local_starts(start: datetime, n_bins: int, bin_s: float) -> list[datetime]:
    """What the caller does: equal-width bins in absolute time, converted to local time."""
    tz = start.tzinfo
    utc = start.astimezone(ZoneInfo("UTC"))
    return [(utc + timedelta(seconds=k * bin_s)).astimezone(tz) for k in range(n_bins)]


def day_matrix(start_day: date, n_days: int, bin_s: float, shape: Double11Shape) -> np.ndarray:
    """Weights of bins (bin_s divides an hour) reshaped to (day, hour, bin-in-hour)."""
    per_hour = round(3600 / bin_s)
    start = datetime.combine(start_day, time(), SHANGHAI)
    w = double11_weights(local_starts(start, n_days * 24 * per_hour, bin_s), bin_s, shape)
    return w.reshape(n_days, 24, per_hour)


def test_flat_weights_are_ones() -> None:
    starts = local_starts(datetime(2024, 11, 11, 13, 5, tzinfo=SHANGHAI), 17, 60.0)
    np.testing.assert_array_equal(flat_weights(starts, 60.0), np.ones(17))


def test_naive_starts_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        double11_weights([datetime(2024, 11, 11)], 60.0, SHAPE)
    with pytest.raises(ValueError, match="bin_s"):
        flat_weights([datetime(2024, 11, 11, tzinfo=SHANGHAI)], 0.0)


def test_empty_horizon() -> None:
    assert double11_weights([], 60.0, SHAPE).shape == (0,)


@pytest.mark.parametrize("bin_s", [60.0, 900.0])
def test_day_totals_over_the_event(bin_s: float) -> None:
    # Horizon 30 Oct .. 17 Nov: normal days, two wave days, peak and after-sale days.
    first = date(2024, 10, 30)
    days = day_matrix(first, 19, bin_s, SHAPE).sum(axis=(1, 2))
    expected = {date(2024, 10, 31): 2.0, date(2024, 11, 10): 2.0, PEAK: 6.0}
    expected.update({PEAK + timedelta(days=k + 1): f for k, f in enumerate((2.5, 2.0, 1.6, 1.3))})
    for d, total in enumerate(days):
        day = first + timedelta(days=d)
        assert total == pytest.approx(expected.get(day, 1.0), abs=1e-9), day


def test_weights_do_not_depend_on_bin_grid_with_7s_bins() -> None:
    # 7 s does not divide an hour; 60 bins of 7 s and 7 bins of 60 s cover the same 420 s, so
    # exact integration must give the same sums. Horizon: 10 Nov 22:00 for 6 h (wave evening,
    # midnight, the peak's first hours).
    start = datetime(2024, 11, 10, 22, tzinfo=SHANGHAI)
    w7 = double11_weights(local_starts(start, 6 * 3600 // 7, 7.0), 7.0, SHAPE)
    w60 = double11_weights(local_starts(start, 6 * 60, 60.0), 60.0, SHAPE)
    n = w7.size // 60
    np.testing.assert_allclose(
        w7[: n * 60].reshape(n, 60).sum(axis=1), w60[: n * 7].reshape(n, 7).sum(axis=1), rtol=1e-9
    )


def test_7s_bins_week_total() -> None:
    # 7 s x 86400 bins = exactly 7 days from 8 Nov 00:00: the total is the sum of day factors.
    start = datetime(2024, 11, 8, tzinfo=SHANGHAI)
    w = double11_weights(local_starts(start, 86400, 7.0), 7.0, SHAPE)
    assert w.sum() == pytest.approx(1 + 1 + 2 + 6 + 2.5 + 2.0 + 1.6, abs=1e-9)
    assert np.all(w > 0)


def test_peak_day_first_hour_share_and_front_loading() -> None:
    peak = day_matrix(PEAK, 1, 60.0, SHAPE)[0]
    assert peak.sum() == pytest.approx(6.0, abs=1e-9)
    assert peak[0].sum() / peak.sum() == pytest.approx(0.33, abs=1e-9)
    minutes = peak[0]
    assert np.all(np.diff(minutes) < 0)  # decaying within the hour
    assert minutes[:10].sum() > 0.5 * minutes.sum()  # most of it in the first minutes
    # The decay ends just above the 01:00 level rather than below it.
    assert 1.0 < minutes[-1] / peak[1].mean() < 1.1


def test_peak_day_intraday_shape() -> None:
    hourly = day_matrix(PEAK, 1, 60.0, SHAPE)[0].sum(axis=1)
    rest = hourly[1:]
    assert hourly[1] > 2 * rest.mean() and hourly[2] > 2 * rest.mean()
    assert set(np.argsort(hourly)[:2]) == {4, 5}  # trough 04-06h
    assert 1 + int(np.argmax(rest)) in (20, 21)  # maximum of the rest 20-22h
    plateau = hourly[10:17]
    assert plateau.max() / plateau.min() < 1.1


def test_normal_day_intraday_shape() -> None:
    hourly = day_matrix(date(2024, 11, 5), 1, 60.0, SHAPE)[0].sum(axis=1)
    assert hourly.sum() == pytest.approx(1.0, abs=1e-12)
    assert set(np.argsort(hourly)[:2]) == {4, 5}
    assert int(np.argmax(hourly)) in (20, 21)
    assert hourly[9] > 2 * hourly[7]  # steep rise after 07h
    plateau = hourly[10:19]
    assert plateau.max() / plateau.min() < 1.1
    np.testing.assert_allclose(hourly, np.array(NORMAL_HOURLY) / sum(NORMAL_HOURLY))


def test_presale_wave_spike_at_20() -> None:
    day = day_matrix(date(2024, 11, 10), 1, 60.0, SHAPE)[0]
    assert day.sum() == pytest.approx(2.0, abs=1e-9)
    flat = day.reshape(-1)
    assert int(np.argmax(flat)) == 20 * 60  # the 20:00 minute is the busiest
    normal = day_matrix(date(2024, 11, 5), 1, 60.0, SHAPE)[0]
    np.testing.assert_allclose(day[:20], normal[:20], rtol=1e-12)  # unchanged before 20:00
    excess = (day - normal)[20:].sum()
    assert excess == pytest.approx(1.0, abs=1e-9)
    assert (day - normal)[20].sum() > 0.9 * excess  # decays within about an hour


def test_horizon_from_10_nov_for_4_days() -> None:
    start = datetime(2024, 11, 10, tzinfo=SHANGHAI)
    w = double11_weights(local_starts(start, 4 * 1440, 60.0), 60.0, SHAPE)
    np.testing.assert_allclose(w.reshape(4, -1).sum(axis=1), [2.0, 6.0, 2.5, 2.0], atol=1e-9)


def test_mid_day_start_with_unaligned_bins() -> None:
    # Starts at 13:37:30 on a normal day: the first day is partial and bins straddle the hour.
    start = datetime(2024, 11, 5, 13, 37, 30, tzinfo=SHANGHAI)
    to_midnight = int((datetime(2024, 11, 6, tzinfo=SHANGHAI) - start).total_seconds())
    w = double11_weights(local_starts(start, to_midnight // 30 + 2880, 30.0), 30.0, SHAPE)
    shares = np.array(NORMAL_HOURLY) / sum(NORMAL_HOURLY)
    expected_partial = shares[13] * (22.5 * 60) / 3600 + shares[14:].sum()
    assert w[: to_midnight // 30].sum() == pytest.approx(expected_partial, abs=1e-12)
    assert w[to_midnight // 30 :].sum() == pytest.approx(1.0, abs=1e-9)  # 6 Nov whole
    # Same wall-clock bins give the same weights whatever the horizon start.
    aligned = double11_weights(
        local_starts(datetime(2024, 11, 5, tzinfo=SHANGHAI), 2880 * 2, 30.0), 30.0, SHAPE
    )
    offset = (13 * 3600 + 37 * 60 + 30) // 30
    np.testing.assert_allclose(w, aligned[offset : offset + w.size], rtol=1e-9)


def test_dst_fall_back_counts_repeated_hour_twice() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    shape = Double11Shape(peak_date=date(2024, 11, 11))
    start = datetime(2024, 10, 27, tzinfo=berlin)  # 25-hour day
    w = double11_weights(local_starts(start, 25 * 60, 60.0), 60.0, shape)
    shares = np.array(NORMAL_HOURLY) / sum(NORMAL_HOURLY)
    assert w.sum() == pytest.approx(1.0 + shares[2], abs=1e-9)


def test_shape_validation() -> None:
    with pytest.raises(ValueError, match="first_hour_share"):
        Double11Shape(peak_date=PEAK, first_hour_share=1.0)
    with pytest.raises(ValueError, match="presale_wave_dates"):
        Double11Shape(peak_date=PEAK, presale_wave_dates=(PEAK,))
    with pytest.raises(ValueError, match="normal_hourly"):
        Double11Shape(peak_date=PEAK, normal_hourly=(1.0,) * 23)
    with pytest.raises(ValueError, match="spike_factor"):
        PromoShape(promo_times=(), spike_factor=0.5)
    with pytest.raises(ValueError, match="timezone-aware"):
        PromoShape(promo_times=(datetime(2024, 6, 18),))


def test_promo_lead_window_and_decay() -> None:
    promo = datetime(2024, 6, 18, 20, 30, tzinfo=SHANGHAI)
    shape = PromoShape(promo_times=(promo,))
    start = datetime(2024, 6, 18, tzinfo=SHANGHAI)
    starts = local_starts(start, 2 * 1440, 60.0)
    w = promo_weights(starts, 60.0, shape)
    base = promo_weights(starts, 60.0, PromoShape(promo_times=()))
    np.testing.assert_allclose(base.reshape(2, -1).sum(axis=1), [1.0, 1.0], atol=1e-9)
    ratio = w / base
    i_promo = 20 * 60 + 30
    np.testing.assert_allclose(ratio[i_promo - 30 : i_promo], 6.0, rtol=1e-12)  # lead window
    np.testing.assert_allclose(ratio[: i_promo - 30], 1.0, rtol=1e-12)
    after = ratio[i_promo:]
    assert np.all(np.diff(after[:240]) < 0)  # decaying excess
    assert 5.9 < after[0] < 6.0
    # One decay time later the excess is 5/e (average over the minute bin).
    assert after[30] - 1 == pytest.approx(5 * np.exp(-1.0), rel=0.02)
    # Excess mass: 5 x base in the lead window, plus 5 x integral of base x exp after 20:30.
    # base is constant within each clock hour, so each hour's piece is closed-form.
    tau = 30.0  # decay_s in minutes (weights here are per minute bin)
    tail = 0.0
    for h in range(20, 48):
        a = max(0, h * 60 - i_promo) / tau
        b = ((h + 1) * 60 - i_promo) / tau
        tail += base[h * 60] * tau * (np.exp(-a) - np.exp(-b))
    lead = 30 * base[i_promo - 1]
    assert (w - base).sum() == pytest.approx(5 * lead + 5 * tail, rel=1e-9)
