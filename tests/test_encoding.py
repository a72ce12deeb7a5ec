"""Spike encodings: TTFS latencies and rasters, event lists."""

import numpy as np
import pytest

from spikestream.model.encoding import events_to_raster, raster_to_events, ttfs_encode, ttfs_latency


def test_ttfs_latency_by_hand():
    # t = min(floor((1 - x) * window), window - 1): 1 -> 0, 0.75 -> 2.5 -> 2, 0.05 -> 9.5 -> 9, 1e-9 -> 9.
    assert ttfs_latency(np.array([1.0, 0.75, 0.05, 1e-9, 0.0]), 10).tolist() == [0, 2, 9, 9, -1]
    assert ttfs_latency(np.array([0.3, 0.0]), 1).tolist() == [0, -1]


def test_ttfs_encode_batches():
    intensity = np.array([[1.0, 0.0], [0.5, 0.25]])
    raster = ttfs_encode(intensity, 4)
    assert raster.shape == (2, 4, 2)
    assert np.argwhere(raster).tolist() == [[0, 0, 0], [1, 2, 0], [1, 3, 1]]


@pytest.mark.parametrize("bad", [1.5, -0.1, np.nan, np.inf])
def test_ttfs_refuses_intensities_outside_unit_range(bad):
    with pytest.raises(ValueError, match=r"is outside \[0, 1\]; normalise the input first"):
        ttfs_latency(np.array([0.5, bad]), 10)


def test_ttfs_refuses_an_empty_window():
    with pytest.raises(ValueError, match=r"window = 0 must be a whole number of steps >= 1"):
        ttfs_latency(np.array([0.5]), 0)


def test_events_round_trip_in_core_order():
    raster = np.zeros((5, 3), bool)
    raster[[4, 0, 2, 2], [0, 2, 1, 0]] = True
    events = raster_to_events(raster)
    assert events.tolist() == [[0, 2], [2, 0], [2, 1], [4, 0]]  # by timestep, then channel
    assert events.dtype == np.int64
    assert np.array_equal(events_to_raster(events, 5, 3), raster)
    assert events_to_raster(np.zeros((0, 2)), 2, 2).tolist() == [[False, False], [False, False]]


def test_event_errors_name_the_event_and_the_range():
    with pytest.raises(ValueError, match=r"event 1 has timestep 5, expected 0 \.\. 4"):
        events_to_raster([[0, 0], [5, 1]], 5, 3)
    with pytest.raises(ValueError, match=r"event 0 has channel -1, expected 0 \.\. 2"):
        events_to_raster([[0, -1]], 5, 3)
    with pytest.raises(ValueError, match=r"an event \(timestep, channel\) is repeated"):
        events_to_raster([[1, 1], [1, 1]], 5, 3)
    with pytest.raises(ValueError, match=r"raster has shape \(3,\), expected \[timesteps, channels\]"):
        raster_to_events(np.zeros(3, bool))


def test_event_lists_and_rasters_are_not_reinterpreted():
    """Rows of three, fractional events and spike values of 2 are errors, not reshaped, truncated or cast."""
    from spikestream.model.cycles import input_cycles
    from spikestream.model.protocol import encode_sample

    with pytest.raises(ValueError, match=r"events have shape \(2, 3\), expected \[n_events, 2\]"):
        events_to_raster([[0, 1, 2], [1, 1, 1]], 4, 3)
    with pytest.raises(ValueError, match="events must hold whole numbers"):
        events_to_raster([[0.7, 1.2]], 4, 3)
    assert events_to_raster(np.array([[1.0, 2.0]]), 4, 3)[1, 2] and not events_to_raster([], 4, 3).any()
    for raster in (np.array([[0, 2]]), np.array([[0.5, 0.0]])):
        with pytest.raises(ValueError, match="is not 0 or 1"):
            encode_sample(raster)
        with pytest.raises(ValueError, match="is not 0 or 1"):
            input_cycles(raster, 1)
    assert encode_sample(np.array([[0, 1]])) == encode_sample(np.array([[False, True]]))
    from spikestream.model.protocol import encode_load
    from spikestream.model import INPUT, CoreConfig, Network, Population, SynapseGroup

    network = Network(2, [Population("o", 1)], [SynapseGroup(INPUT, "o", np.ones((2, 1), int))], 3, "o")
    with pytest.raises(ValueError, match="live value 2 is not 0 or 1"):
        encode_load(network, CoreConfig(), live=np.array([2, 0]))


def test_values_that_are_not_spikes_or_steps_are_refused():
    with pytest.raises(ValueError, match=r"raster value 2 is not 0 or 1"):
        raster_to_events(np.array([[0, 2], [1, 0]]))
    with pytest.raises(ValueError, match=r"raster value 0.5 is not 0 or 1"):
        raster_to_events([[0.5, 1.0]])
    assert raster_to_events(np.array([[0, 1], [1, 0]])).tolist() == [[0, 1], [1, 0]]
    for window in (2.7, True, 0):
        with pytest.raises(ValueError, match=r"window = .* must be a whole number of steps >= 1"):
            ttfs_latency(np.array([0.5]), window)
    with pytest.raises(ValueError, match="intensity is a scalar, expected an array"):
        ttfs_encode(np.array(0.5), 4)
