"""Tests of the fast simulation path (spikestream.sim.stream_player): a Verilog player streams the words.

One speed build of the player around the small reference core; every run is compared with
the golden and cycle models (the same checks as the verification testbench's scoreboard,
on the packets the player recorded).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from spikestream.model import golden
from spikestream.model.cycles import FIFO_WAIT_CYCLES, sample_cycles
from spikestream.model.generate import random_inputs
from spikestream.model.protocol import decode_output
from spikestream.rtl.top import SpikestreamCore
from spikestream.sim.cases import SMALL_CORE, random_case
from spikestream.sim.scoreboard import expected_samples
from spikestream.sim.stream_player import (PLAYER_TOPLEVEL, PlayerJob, decode_beats, encode_beats, pause_level, play,
                                           player_verilog, run_network)


def test_beats_round_trip_and_unterminated_recordings_are_refused():
    packets = [[0x11000005], [1, 2, 0xFFFFFFFF]]
    assert decode_beats(encode_beats(packets)) == packets
    with pytest.raises(ValueError, match="ends inside a packet"):
        decode_beats(encode_beats(packets)[:-1])


def test_pause_level_is_a_byte_threshold():
    assert pause_level(0.0) == 0 and pause_level(0.3) == 77
    with pytest.raises(ValueError, match="outside"):
        pause_level(1.0)


def test_player_connects_every_port_of_the_core():
    verilog = player_verilog(SMALL_CORE)
    top = SpikestreamCore(SMALL_CORE)
    top._MustUse__silence = True
    instance = verilog[verilog.index("spikestream_core core ("):]
    assert set(re.findall(r"\.(\w+)\(", instance)) == set(top.signature.members)
    assert f"module {PLAYER_TOPLEVEL} (" in verilog


def _expected(case):
    samples = expected_samples(case.network, SMALL_CORE, case.inputs)
    return [step for sample in samples for step in sample.steps], [sample.summary for sample in samples]


@pytest.mark.parametrize("pause", [0.0, 0.3], ids=["full-rate", "pauses"])
def test_played_samples_match_the_models(pause, tmp_path):
    """Three random networks in one simulation; every STEP and SUMMARY and the busy cycles as modelled."""
    cases = [random_case(SMALL_CORE, seed, samples=3) for seed in (11, 12, 13)]
    jobs = [PlayerJob.samples(f"seed {case.seed}", case.network, SMALL_CORE, case.inputs) for case in cases]
    played = play(SMALL_CORE, jobs, pause=pause, seed=7, work_dir=tmp_path)
    assert [job.name for job in played] == [job.name for job in jobs]
    for case, job in zip(cases, played):
        steps, summaries, _ = decode_output(job.packets)
        wanted_steps, wanted_summaries = _expected(case)
        assert steps == wanted_steps, f"seed {case.seed}"
        assert summaries == wanted_summaries, f"seed {case.seed}"
        assert job.setup_packets == [] and job.errors == 0 and job.dropped_packets == 0
        assert job.clock_cycles >= job.busy_cycles > 0 and job.seconds > 0
        if pause == 0.0:
            busy = sum(step.cycles + FIFO_WAIT_CYCLES for step in wanted_steps) + sum(
                summary.cycles + FIFO_WAIT_CYCLES for summary in wanted_summaries)
            assert job.busy_cycles == busy, f"seed {case.seed}"


def test_run_network_gives_the_golden_decisions_and_cycles():
    case = random_case(SMALL_CORE, 21, samples=2)
    inputs = np.concatenate([case.inputs, random_inputs(np.random.default_rng(4), case.network, 3)])
    decisions, cycles = run_network(case.network, SMALL_CORE, inputs, batch=2)  # three jobs, the last one short
    result = golden.run(case.network, SMALL_CORE, inputs)
    np.testing.assert_array_equal(decisions, result.decision)
    np.testing.assert_array_equal(cycles, sample_cycles(case.network, SMALL_CORE, inputs, result))


def test_a_run_that_never_finishes_fails_with_the_counts(tmp_path):
    """Waiting for one SUMMARY more than the samples make: the player's hang guard ends the run."""
    case = random_case(SMALL_CORE, 31, samples=1)
    job = PlayerJob.samples("one sample", case.network, SMALL_CORE, case.inputs)
    job = PlayerJob(job.name, job.setup, job.packets, job.summaries + 1)
    with pytest.raises(AssertionError, match="did not finish within"):
        play(SMALL_CORE, [job], work_dir=tmp_path, timeout_cycles=5_000)
