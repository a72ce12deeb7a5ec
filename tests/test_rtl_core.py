"""The whole core in Verilator through its AXI ports: random differential tests, bad input, resets.

One Verilator build per configuration (cached by source hash, shared by its cocotb
tests); see :mod:`spikestream.sim.core_tb` for what is checked.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from spikestream.model.config import CoreConfig
from spikestream.rtl.top import TOPLEVEL, generate_verilog
from spikestream.model import golden
from spikestream.sim.cases import SMALL_CORE, core_capacity, random_case
from spikestream.sim.runner import build_verilog, run_cocotb
from spikestream.sim.verify import verilator_make_workaround

#: One lane, every optional neuron feature built out, narrow states: the other corner.
LEAN_CORE = CoreConfig(max_neurons=24, max_inputs=8, max_synapses=300, max_groups=4, max_populations=3, lanes=1,
                       state_bits=16, weight_bits=6, max_weight_exponent=3, timestep_bits=5, refractory_bits=0,
                       neuron_lanes=1, event_queue_depth=32, adaptation=False, refractory=False, ttfs=False,
                       learning=False, pruning=False)

#: The lean core with an event queue shallower than its inputs (the lean core's own queue
#: holds every source, so it never drops an event): the overflow tests get a build of their own.
SHALLOW_QUEUE_CORE = dataclasses.replace(LEAN_CORE, event_queue_depth=6)

DIFFERENTIAL_TESTS = ["random_networks", "bad_input", "reset_anywhere", "early_exit_report"]

#: name: (core, seeds, pause probability, cocotb tests, fill). Without pauses the busy-cycle
#: register is checked against the cycle model too (backpressure adds waiting cycles).
#: ``fill``: the networks use the whole core (every input, neuron, population and group,
#: max_synapses synapses, max_timesteps steps), where addresses and counts reach their limits.
CONFIGS = {
    "small-4-lanes": (SMALL_CORE, range(1, 9), 0.3, DIFFERENTIAL_TESTS, False),
    "lean-1-lane": (LEAN_CORE, range(101, 107), 0.0, DIFFERENTIAL_TESTS, False),
    "shallow-queue": (SHALLOW_QUEUE_CORE, [201], 0.3, ["queue_overflow"], False),
    "small-4-lanes-full": (SMALL_CORE, range(301, 307), 0.3, ["random_networks"], True),
    "lean-1-lane-full": (LEAN_CORE, range(401, 407), 0.0, ["random_networks"], True),
    # Busy steps drop input events and spikes (the golden model's queue_admit), registers included.
    "shallow-queue-full": (SHALLOW_QUEUE_CORE, [501, 502, 503, 504, 505, 507], 0.0, ["random_networks"], True),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_core_against_golden_model(name, tmp_path):
    core, seeds, pause, tests, fill = CONFIGS[name]
    verilator_make_workaround()
    build = build_verilog(generate_verilog(core), TOPLEVEL)
    results = tmp_path / "results.json"
    run = run_cocotb(build, "spikestream.sim.core_tb", testcase=tests,
                     parameters={"core": core.to_dict(), "seeds": list(seeds), "samples": 2, "pause": pause,
                                 "fill": fill, "results": str(results)},
                     test_dir=tmp_path)
    report = json.loads(results.read_text()) if results.is_file() else {}
    failing = {seed: case['mismatches'][:5] for seed, case in report.items() if case['mismatches']}
    assert not failing, f"mismatches (seed: first lines): {failing}"
    if fill and core.event_queue_depth < core.max_inputs + core.max_neurons:
        # The precondition: the whole core on a short queue drops spikes (seed 507 input events too).
        inputs_dropped = 0
        for seed in seeds:
            case = random_case(core, seed, 2, fill=True)
            counters = golden.run(case.network, core, case.inputs).counters
            assert counters[..., golden.Counter.SPIKES_DROPPED].sum() > 0, seed
            inputs_dropped += counters[..., golden.Counter.INPUTS_DROPPED].sum()
        assert inputs_dropped > 0
    if fill:  # the cases the testbench drew did use the whole core, synapse storage included
        full = core_capacity(core)
        assert all({key: case[key] for key in full} == full for case in report.values()), report
    run.check()
    assert set(run.passed) == set(tests)
