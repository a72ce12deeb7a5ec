"""On-chip learning in the whole core (Verilator, through the AXI ports): STDP rules with pruning.

After every sample the scoreboard of :func:`spikestream.sim.core_tb.learning_networks`
compares every STEP / SUMMARY / LEARNED packet (cycles included), the synapses read back
(weights, connectivity, pruning counters, per-source pruned counts), the LFSR and the
learning registers with ``golden.learn`` and the learning cycle model. The small core's
build is shared with ``test_rtl_core``.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from spikestream.rtl.top import TOPLEVEL, generate_verilog
from spikestream.sim.cases import SHORT_QUEUE_CORE, SMALL_CORE, core_capacity
from spikestream.sim.runner import build_verilog, run_cocotb
from spikestream.sim.verify import verilator_make_workaround

#: name: (core, seeds, samples per seed, pause probability). Seeds 4, 16 and 18 have
#: reward-modulated PAIR groups, 2 and 6 reward-modulated TTFS, 5 winner_only TTFS. The
#: backpressure run also walks the traces 2 entries per cycle (SMALL_CORE: 8), so trace
#: words start at odd channel and neuron offsets.
CONFIGS = {
    "small-4-lanes": (SMALL_CORE, [1, 2, 3, 4, 5, 6, 16, 18], 4, 0.0, False),
    "small-4-lanes-2-trace-lanes-backpressure": (dataclasses.replace(SMALL_CORE, trace_lanes=2), range(11, 15), 3,
                                                 0.3, False),
    # The whole core learning: every synapse row walked, every trace in use, max_timesteps steps.
    "small-4-lanes-full": (SMALL_CORE, [21, 22, 23, 24], 4, 0.3, True),
    # ... on a queue of 12 events: busy steps drop spikes (seed 21 an input event), which are
    # still learned from but not delivered.
    "small-4-lanes-short-queue-full": (SHORT_QUEUE_CORE, [21, 23, 24, 25, 28],
                                       3, 0.0, True),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_learning_against_golden_model(name, tmp_path):
    core, seeds, samples, pause, fill = CONFIGS[name]
    verilator_make_workaround()
    build = build_verilog(generate_verilog(core), TOPLEVEL)
    results = tmp_path / "results.json"
    run = run_cocotb(build, "spikestream.sim.core_tb", testcase=["learning_networks"],
                     parameters={"core": core.to_dict(), "seeds": list(seeds), "samples": samples, "pause": pause,
                                 "fill": fill, "results": str(results)},
                     test_dir=tmp_path)
    report = json.loads(results.read_text()) if results.is_file() else {}
    failing = {seed: case['mismatches'][:8] for seed, case in report.items() if case['mismatches']}
    assert not failing, f"mismatches (seed: first lines): {failing}"
    if fill:  # the cases the testbench drew did use the whole core, synapse storage included
        full = core_capacity(core)
        assert all({key: case[key] for key in full} == full for case in report.values()), report
    run.check()
    assert set(run.passed) == {"learning_networks"}


def test_learning_edge_cases(tmp_path):
    """Clamp bounds, reward without an output spike, a neuron's whole fan-in pruned, learning off, reload."""
    verilator_make_workaround()
    build = build_verilog(generate_verilog(SMALL_CORE), TOPLEVEL)
    run = run_cocotb(build, "spikestream.sim.core_tb", testcase=["learning_edge_cases"],
                     parameters={"core": SMALL_CORE.to_dict(), "seeds": [0]}, test_dir=tmp_path)
    run.check()
    assert set(run.passed) == {"learning_edge_cases"}
