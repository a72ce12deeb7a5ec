"""The 16-bit Galois LFSR of stochastic rounding, as expressions (no state of its own).

The generator is the golden model's :func:`~spikestream.model.golden.lfsr_next` (taps
and seed come from there, never retyped): one *draw* shifts the state right once and
XORs the taps in when the bit shifted out was 1; the draw's value is the new state.
A learning engine that makes several draws in one cycle unrolls the chain with
:func:`lfsr_chain`: each link is a shift and four XOR gates, so even ``2 * lanes``
links stay a shallow XOR network.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, Value

from spikestream.model.golden import LFSR_BITS, LFSR_SEED, LFSR_TAPS

__all__ = ["LFSR_BITS", "LFSR_SEED", "LFSR_TAPS", "lfsr_next_value", "lfsr_chain"]


def lfsr_next_value(state: Value) -> Value:
    """Return the expression of the state after one draw from ``state`` (16 bits)."""
    shifted = state[1:LFSR_BITS]
    return Mux(state[0], shifted ^ Const(LFSR_TAPS, LFSR_BITS), shifted)


def lfsr_chain(m: Module, state: Value, draws: int, name: str = "lfsr_after") -> list[Value]:
    """Return ``[state, after 1 draw, ..., after draws draws]`` (``draws + 1`` values).

    Each link is a comb :class:`Signal` of ``m``: a link reads the previous one twice,
    so nested expressions would double in size with every draw.
    """
    chain = [state]
    for count in range(1, draws + 1):
        link = Signal(LFSR_BITS, name=f"{name}_{count}")
        m.d.comb += link.eq(lfsr_next_value(chain[-1]))
        chain.append(link)
    return chain
