"""Batch augmentation of the trainer: frequency masks (adjacent whole mel bands) and time masks (adjacent steps)."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from spikestream.cli import main as cli_main  # noqa: E402
from spikestream.model.train.trainer import TrainConfig, _augment  # noqa: E402


def test_frequency_masks_silence_adjacent_whole_bands():
    bands, groups, width = 8, 3, 3  # e.g. rate_delta: channels [rate bands, up bands, down bands]
    inputs = torch.ones((400, 5, groups * bands), dtype=torch.bool)
    masked = _augment(inputs, TrainConfig(freq_mask=width, mel_bands=bands), torch.Generator().manual_seed(1))
    seen_widths, seen_starts = set(), set()
    for raster in masked.numpy():
        silent = ~raster[0]
        assert np.array_equal(raster, np.broadcast_to(raster[0], raster.shape))  # every step alike
        silent_bands = sorted({int(c) % bands for c in np.flatnonzero(silent)})
        # All channels of a silenced band go together, and the silenced bands are adjacent.
        assert np.array_equal(silent, np.isin(np.arange(groups * bands) % bands, silent_bands))
        assert silent_bands == list(range(silent_bands[0], silent_bands[0] + len(silent_bands))) if silent_bands \
            else True
        assert len(silent_bands) <= width
        seen_widths.add(len(silent_bands))
        if silent_bands:
            seen_starts.add(silent_bands[0])
    assert seen_widths == {0, 1, 2, 3}
    assert seen_starts == set(range(bands))  # a mask can start on any band, the last one too


def test_time_masks_silence_adjacent_whole_steps():
    steps, width = 10, 4
    inputs = torch.ones((400, steps, 6), dtype=torch.bool)
    masked = _augment(inputs, TrainConfig(time_mask=width), torch.Generator().manual_seed(2)).numpy()
    widths, starts = set(), set()
    for raster in masked:
        silent = np.flatnonzero(~raster[:, 0])
        assert np.array_equal(raster, np.broadcast_to(raster[:, :1], raster.shape))  # every channel alike
        assert silent.tolist() == list(range(silent[0], silent[0] + silent.size)) if silent.size else True
        assert silent.size <= width
        widths.add(silent.size)
        if silent.size:
            starts.add(int(silent[0]))
    assert widths == set(range(width + 1)) and starts == set(range(steps))


def test_no_mask_leaves_the_batch_and_the_generator_alone():
    inputs = torch.rand((20, 4, 6), generator=torch.Generator().manual_seed(0)) < 0.5
    generator = torch.Generator().manual_seed(3)
    assert torch.equal(_augment(inputs, TrainConfig(), generator), inputs)
    assert torch.equal(generator.get_state(), torch.Generator().manual_seed(3).get_state())


def test_bad_mask_settings_are_refused():
    with pytest.raises(ValueError, match="freq_mask = 9 is wider than the 8 mel bands"):
        TrainConfig(freq_mask=9, mel_bands=8)
    with pytest.raises(ValueError, match="freq_mask = -1, expected a whole number >= 0"):
        TrainConfig(freq_mask=-1)
    with pytest.raises(ValueError, match="time_mask = -2, expected a whole number >= 0"):
        TrainConfig(time_mask=-2)
    with pytest.raises(ValueError, match="10 input channels are not a whole number of the 4 mel bands"):
        _augment(torch.ones((2, 3, 10), dtype=torch.bool), TrainConfig(freq_mask=2, mel_bands=4), torch.Generator())


def test_cli_trains_with_frequency_masks(tmp_path, capsys, tiny_rasters):
    source, data = tiny_rasters
    assert cli_main(["train", str(source), "--out", str(tmp_path / "m.spkn"), "--hidden", "12", "--float-epochs", "1",
                     "--quant-epochs", "1", "--batch-size", "12", "--no-progress", "--threads", "1", "--freq-mask", "3",
                     "--time-mask", "4", "--json"]) == 0
    training = json.loads(capsys.readouterr().out)["training"]
    assert training["freq_mask"] == 3 and training["mel_bands"] == 0  # rasters: every channel is a band
    assert training["time_mask"] == 4
    for mask, message in (("9", "--freq-mask 9 is wider than the 8 channels of the data"),
                          ("-1", "--freq-mask: freq_mask = -1, expected a whole number >= 0")):
        assert cli_main(["train", str(source), "--out", str(tmp_path / "x.spkn"), "--float-epochs", "1",
                         "--quant-epochs", "0", "--no-progress", "--freq-mask", mask]) == 2
        assert message in capsys.readouterr().err
    for mask, message in (("13", "--time-mask 13 is longer than the 12 timesteps of the data"),
                          ("-1", "--time-mask: time_mask = -1, expected a whole number >= 0")):
        assert cli_main(["train", str(source), "--out", str(tmp_path / "x.spkn"), "--float-epochs", "1",
                         "--quant-epochs", "0", "--no-progress", "--time-mask", mask]) == 2
        assert message in capsys.readouterr().err
    from spikestream.model.train.trainer import train
    from spikestream.model.train.layers import ArchitectureConfig, build_model
    from spikestream.model.config import CoreConfig
    model = build_model(ArchitectureConfig(hidden=(4,)), 8, 3, 12, CoreConfig(), torch.Generator())
    with pytest.raises(ValueError, match="freq_mask = 9 is wider than the 8 bands of the inputs"):
        train(model, data, data, TrainConfig(freq_mask=9, threads=1), progress=False)
    with pytest.raises(ValueError, match="time_mask = 13 is longer than the 12 timesteps of the inputs"):
        train(model, data, data, TrainConfig(time_mask=13, threads=1), progress=False)
