"""The decision rule: pick the winner of the output population, one neuron per cycle.

The rules are those of :class:`spikestream.model.network.Decision` and
:func:`spikestream.model.golden.decide`; the scan visits the output neurons in index
order and only a strictly better neuron replaces the best so far, so ties go to the
lower index.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spikestream.model.config import CoreConfig
from spikestream.model.network import DecisionMode
from spikestream.model.protocol import DECISION_CODES, WORD_BITS

from .neuron import neuron_state_layout

__all__ = ["DecisionScan"]


class DecisionScan(wiring.Component):
    """Running winner of a scan over the output population.

    Ports
    -----
    start : In(1)
        Forget the previous scan (the cycle before the first ``valid``).
    valid, index, state : In
        One output neuron: its index within the output population (0, 1, ... in order)
        and its final state. Taken in the cycle ``valid`` is high.
    mode : In(2)
        :data:`~spikestream.model.protocol.DECISION_CODES` of the rule.
    timesteps : In
        Steps of a sample (the deciding step of ``SPIKE_COUNT`` is the last one).
    decision, decision_step : Out
        The winner (index within the output population) and the deciding step (32-bit
        two's complement, -1 when decided by potential), valid the cycle after the last
        ``valid``.
    """

    def __init__(self, core: CoreConfig):
        self.core = core
        self.state_layout = neuron_state_layout(core)
        super().__init__({
            "start": In(1),
            "valid": In(1),
            "index": In(range(core.max_neurons)),
            "state": In(self.state_layout),
            "mode": In(2),
            "timesteps": In(core.timestep_bits + 1),
            "decision": Out(range(core.max_neurons)),
            "decision_step": Out(WORD_BITS),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self.core
        any_spike = Signal()
        potential_index = Signal.like(self.index)
        potential_voltage = Signal(signed(core.state_bits))
        first_index = Signal.like(self.index)
        first_step = Signal(core.timestep_bits)
        first_voltage = Signal(signed(core.state_bits))
        count_index = Signal.like(self.index)
        count_best = Signal(core.timestep_bits)
        count_first_step = Signal(core.timestep_bits)
        seen = self.state
        with m.If(self.start):
            m.d.sync += any_spike.eq(0)
        with m.Elif(self.valid):
            # MAX_POTENTIAL (also the fallback when no output neuron spiked).
            with m.If((self.index == 0) | (seen.v > potential_voltage)):
                m.d.sync += [potential_index.eq(self.index), potential_voltage.eq(seen.v)]
            with m.If(seen.fired):
                m.d.sync += any_spike.eq(1)
                # FIRST_SPIKE: earliest first spike, then larger voltage at it.
                with m.If(~any_spike | (seen.first_step < first_step)
                          | ((seen.first_step == first_step) & (seen.first_voltage > first_voltage))):
                    m.d.sync += [first_index.eq(self.index), first_step.eq(seen.first_step),
                                 first_voltage.eq(seen.first_voltage)]
                # SPIKE_COUNT: most spikes, then earliest first spike.
                with m.If(~any_spike | (seen.spike_count > count_best)
                          | ((seen.spike_count == count_best) & (seen.first_step < count_first_step))):
                    m.d.sync += [count_index.eq(self.index), count_best.eq(seen.spike_count),
                                 count_first_step.eq(seen.first_step)]
        by_spike = any_spike & (self.mode != DECISION_CODES[DecisionMode.MAX_POTENTIAL])
        first_mode = self.mode == DECISION_CODES[DecisionMode.FIRST_SPIKE]
        no_step = (1 << WORD_BITS) - 1  # -1: decided by potential
        m.d.comb += [
            self.decision.eq(Mux(by_spike, Mux(first_mode, first_index, count_index), potential_index)),
            self.decision_step.eq(Mux(by_spike, Mux(first_mode, first_step, self.timesteps - 1), no_step)),
        ]
        return m
