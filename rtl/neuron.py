"""The neuron update: one neuron per cycle, the equations of the golden model.

The arithmetic is the one in the docstring of :mod:`spikestream.model.golden` (step 2
of a timestep); this file does not restate it. Each decay is one multiply of a
``state_bits`` signed value by a 13-bit unsigned keep factor (``4096 - d``), which maps
to one DSP48 slice, followed by a truncation toward zero.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from spikestream.model.config import DECAY_BITS, CoreConfig
from spikestream.model.protocol import KEEP_BITS

__all__ = ["NEURON_LATENCY", "neuron_params_layout", "neuron_state_layout", "accumulator_bits", "NeuronUpdate"]

#: Cycles from a valid input to its valid output.
NEURON_LATENCY = 3


def _refractory_width(core: CoreConfig) -> int:
    return max(1, core.refractory_bits)


def accumulator_bits(core: CoreConfig) -> int:
    """Signed width of a synaptic input ``a[i]``: it never overflows.

    A neuron receives at most one synapse per source, each at most
    ``2**(weight_bits-1) << max_weight_exponent`` in magnitude.
    """
    return core.weight_bits + core.max_weight_exponent + max(1, (core.num_sources - 1).bit_length()) + 1


def neuron_params_layout(core: CoreConfig) -> data.StructLayout:
    """Per-neuron parameters as stored in the parameter memory."""
    return data.StructLayout({
        "threshold": unsigned(core.state_bits - 1),
        "bias": signed(core.state_bits),
        "adapt_increment": unsigned(core.state_bits - 1),
        "current_keep": unsigned(KEEP_BITS),
        "voltage_keep": unsigned(KEEP_BITS),
        "adapt_keep": unsigned(KEEP_BITS),
        "refractory": unsigned(_refractory_width(core)),
        "reset_subtract": unsigned(1),
        "single_spike": unsigned(1),
    })


def neuron_state_layout(core: CoreConfig) -> data.StructLayout:
    """Per-neuron state as stored in the state memory (all zero at a sample start)."""
    return data.StructLayout({
        "u": signed(core.state_bits),
        "v": signed(core.state_bits),
        "theta": unsigned(core.state_bits - 1),
        "refractory_left": unsigned(_refractory_width(core)),
        "fired": unsigned(1),
        "first_step": unsigned(core.timestep_bits),
        "first_voltage": signed(core.state_bits),
        "spike_count": unsigned(core.timestep_bits),
    })


def _truncate_decay(product):
    """``product / 4096`` truncated toward zero (the golden model's ``decay``)."""
    return Mux(product < 0, product + ((1 << DECAY_BITS) - 1), product) >> DECAY_BITS


def _saturate(m: Module, value, limit: int, width: int):
    """Clip a signed value to ``[-limit, limit]`` (states never wrap)."""
    result = Signal(signed(width))
    with m.If(value > limit):
        m.d.comb += result.eq(limit)
    with m.Elif(value < -limit):
        m.d.comb += result.eq(-limit)
    with m.Else():
        m.d.comb += result.eq(value)
    return result


class NeuronUpdate(wiring.Component):
    """Update one neuron per cycle (fully pipelined).

    Ports
    -----
    in_valid, in_index, in_state, in_params, in_synaptic_input, in_step : In
        A neuron to update: its index (passed through), state, parameters, the summed
        synaptic input of this step and the step number (for ``first_step``).
    out_valid, out_index, out_state, out_spike, out_output : Out
        The same neuron ``NEURON_LATENCY`` cycles after ``in_valid``: its new state and
        whether it spiked. Outputs are combinational from the last pipeline register.
    """

    def __init__(self, core: CoreConfig):
        self.core = core
        self.state_layout = neuron_state_layout(core)
        self.params_layout = neuron_params_layout(core)
        index_bits = max(1, (core.max_neurons - 1).bit_length())
        super().__init__({
            "in_valid": In(1),
            "in_index": In(index_bits),
            "in_state": In(self.state_layout),
            "in_params": In(self.params_layout),
            "in_synaptic_input": In(signed(accumulator_bits(core))),
            "in_step": In(core.timestep_bits),
            "out_valid": Out(1),
            "out_index": Out(index_bits),
            "out_state": Out(self.state_layout),
            "out_spike": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self.core
        width = core.state_bits
        limit = core.state_max
        wide = width + KEEP_BITS + 2

        # Stage 1: the three decay products (one multiply each) and the inputs, registered.
        valid1 = Signal()
        index1 = Signal.like(self.in_index)
        state1 = Signal(self.state_layout)
        params1 = Signal(self.params_layout)
        input1 = Signal.like(self.in_synaptic_input)
        step1 = Signal.like(self.in_step)
        current_product = Signal(signed(wide))
        voltage_product = Signal(signed(wide))
        adapt_product = Signal(signed(wide))
        m.d.sync += [
            valid1.eq(self.in_valid), index1.eq(self.in_index), state1.eq(self.in_state),
            params1.eq(self.in_params), input1.eq(self.in_synaptic_input), step1.eq(self.in_step),
            current_product.eq(self.in_state.u * self.in_params.current_keep),
            voltage_product.eq(self.in_state.v * self.in_params.voltage_keep),
        ]
        if core.adaptation:
            m.d.sync += adapt_product.eq(self.in_state.theta * self.in_params.adapt_keep)

        # Stage 2: decayed current (with the synaptic input), decayed voltage plus bias,
        # decayed adaptation, registered.
        valid2 = Signal()
        index2 = Signal.like(self.in_index)
        state2 = Signal(self.state_layout)
        params2 = Signal(self.params_layout)
        step2 = Signal.like(self.in_step)
        current2 = Signal(signed(width))
        voltage_base2 = Signal(signed(width + 2))
        theta2 = Signal(unsigned(width - 1))
        current_next = _saturate(m, _truncate_decay(current_product) + input1, limit, width)
        m.d.sync += [
            valid2.eq(valid1), index2.eq(index1), state2.eq(state1), params2.eq(params1), step2.eq(step1),
            current2.eq(current_next),
            voltage_base2.eq(_truncate_decay(voltage_product) + params1.bias),
        ]
        if core.adaptation:
            m.d.sync += theta2.eq(_truncate_decay(adapt_product))

        # Stage 3: integrated voltage (held while refractory) and effective threshold, registered.
        hold2 = Signal()
        if core.refractory:
            m.d.comb += hold2.eq(state2.refractory_left != 0)
        voltage_integrated = _saturate(m, voltage_base2 + current2, limit, width)
        valid3 = Signal()
        index3 = Signal.like(self.in_index)
        state3 = Signal(self.state_layout)
        params3 = Signal(self.params_layout)
        step3 = Signal.like(self.in_step)
        current3 = Signal(signed(width))
        theta3 = Signal(unsigned(width - 1))
        hold = Signal()
        voltage = Signal(signed(width))
        effective_threshold = Signal(unsigned(width))
        m.d.sync += [
            valid3.eq(valid2), index3.eq(index2), state3.eq(state2), params3.eq(params2), step3.eq(step2),
            current3.eq(current2), theta3.eq(theta2), hold.eq(hold2),
            voltage.eq(Mux(hold2, state2.v, voltage_integrated)),
            effective_threshold.eq(params2.threshold + theta2),
        ]

        # Output (combinational from stage 3): threshold test, reset.
        blocked_single = Signal()
        if core.ttfs:
            m.d.comb += blocked_single.eq(params3.single_spike & state3.fired)
        spike = Signal()
        m.d.comb += spike.eq((voltage > effective_threshold) & ~hold & ~blocked_single)
        first = Signal()
        m.d.comb += first.eq(spike & ~state3.fired)

        new = self.out_state
        with m.If(spike):
            m.d.comb += new.v.eq(Mux(params3.reset_subtract, voltage - effective_threshold, 0))
            if core.adaptation:
                raised = Signal(unsigned(width + 1))
                m.d.comb += [
                    raised.eq(theta3 + params3.adapt_increment),
                    new.theta.eq(Mux(raised > limit, limit, raised)),
                ]
            if core.refractory:
                m.d.comb += new.refractory_left.eq(params3.refractory)
        with m.Else():
            m.d.comb += [new.v.eq(voltage), new.theta.eq(theta3)]
            if core.refractory:
                m.d.comb += new.refractory_left.eq(Mux(hold, state3.refractory_left - 1, 0))
        m.d.comb += [
            new.u.eq(current3),
            new.fired.eq(state3.fired | spike),
            new.first_step.eq(Mux(first, step3, state3.first_step)),
            new.first_voltage.eq(Mux(first, voltage, state3.first_voltage)),
            new.spike_count.eq(state3.spike_count + spike),
            self.out_valid.eq(valid3),
            self.out_index.eq(index3),
            self.out_spike.eq(spike & valid3),
        ]
        return m
