"""Benchmark the golden model on an audio-sized network; print (and optionally write) JSON.

The network is the size of the spoken-word task: 64 input channels, a hidden population
of 256 CUBA neurons with sparse recurrence, 10 outputs, 100 timesteps. Three
implementations run the same network on the same input spikes:

- ``golden``: :func:`spikestream.model.golden.run`, batched over samples.
- ``naive_loop``: the same integer dynamics written as a per-neuron, per-synapse Python
  loop (below). It is checked spike for spike against the golden model before it is
  timed, so the comparison is between two correct implementations.
- ``snntorch``: ``nn.Linear`` + ``snntorch.RSynaptic`` / ``snntorch.Synaptic`` (float32 CUBA
  neurons with the same decays, thresholds, reset to zero and recurrence), on the CPU
  with ``torch.set_num_threads(os.cpu_count())`` and no autograd.

The golden model's delivery is one small float matrix product per step. Multi-threaded
BLAS gains nothing on matrices this small and, on a busy machine, its spinning threads
made it ~6x slower, so this script asks for one BLAS thread (``OPENBLAS_NUM_THREADS=1``
unless already set; it is reported in the JSON).

Usage::

    python bench/bench_golden.py                 # JSON on stdout
    python bench/bench_golden.py --out bench.json --batch 64 --repeats 5

Throughput is samples per second and neuron-steps per second (neurons x timesteps x
samples / seconds); the best of ``--repeats`` runs is reported (least disturbed by other
processes on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

# Before numpy loads its BLAS (see the module docstring).
for _variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402

from spikestream.model import INPUT, CoreConfig, Decision, DecisionMode, Network, Population, SynapseGroup  # noqa: E402
from spikestream.model import golden  # noqa: E402
from spikestream.model.config import DECAY_BITS, DECAY_UNITY  # noqa: E402
from spikestream.model.generate import normal_weights  # noqa: E402


def audio_network(rng: np.random.Generator, inputs: int = 64, hidden: int = 256, outputs: int = 10,
                  timesteps: int = 100, recurrent_density: float = 0.2) -> Network:
    """Draw the benchmark network: input -> hidden (+ sparse hidden -> hidden) -> output."""
    def weights(shape, scale, mean=0.0):
        return normal_weights(rng, shape, scale, mean)

    hidden_population = Population("hidden", hidden, threshold=rng.integers(60000, 120000, hidden),
                                   current_decay=rng.integers(200, 1200, hidden),
                                   voltage_decay=rng.integers(200, 1200, hidden))
    output_population = Population("out", outputs, threshold=400000, current_decay=600, voltage_decay=400)
    recurrent_mask = rng.random((hidden, hidden)) < recurrent_density
    groups = [
        SynapseGroup(INPUT, "hidden", weights((inputs, hidden), 40.0, mean=8.0), exponent=6),
        SynapseGroup("hidden", "hidden", weights((hidden, hidden), 12.0), mask=recurrent_mask, exponent=6),
        SynapseGroup("hidden", "out", weights((hidden, outputs), 30.0), exponent=6),
    ]
    return Network(inputs, [hidden_population, output_population], groups, timesteps, "out",
                   Decision(DecisionMode.SPIKE_COUNT))


# ---- the naive reference: one neuron and one synapse at a time --------------------------

def _decay(x: int, d: int) -> int:
    product = x * (DECAY_UNITY - d)
    return product >> DECAY_BITS if product >= 0 else -((-product) >> DECAY_BITS)  # truncate toward zero


def naive_run(network: Network, core: CoreConfig, inputs: np.ndarray) -> np.ndarray:
    """Run ``inputs [B, T, C]`` neuron by neuron in plain Python ints; return spikes ``[B, T, N]``.

    Implements the equations of the golden model's docstring (inference, no early exit)
    from the network description directly.
    """
    n = network.n_neurons
    limit = core.state_max
    fanout = [[] for _ in range(network.n_sources)]
    for group in network.groups:
        source0, target0 = network.source_offset(group.source), network.neuron_offset(group.target)
        for pre, post in zip(*np.nonzero(group.mask)):
            fanout[source0 + int(pre)].append((target0 + int(post), int(group.weights[pre, post]) << group.exponent))
    parameters = {name: network.neuron_parameter(name).tolist() for name in Population.PARAMETERS}
    subtract = [p.reset.value == "subtract" for p in network.populations for _ in range(p.size)]
    single = [p.single_spike for p in network.populations for _ in range(p.size)]
    batch, steps, channels = inputs.shape
    spikes_out = np.zeros((batch, steps, n), bool)
    for b in range(batch):
        u, v, theta, hold, fired = [0] * n, [0] * n, [0] * n, [0] * n, [False] * n
        pending: list[int] = []
        for t in range(steps):
            current = [0] * n
            for source in pending:
                for target, value in fanout[source]:
                    current[target] += value
            spiked = []
            for i in range(n):
                u[i] = max(-limit, min(limit, _decay(u[i], parameters["current_decay"][i] + 1) + current[i]))
                holding = hold[i] > 0
                if not holding:
                    v[i] = max(-limit, min(limit, _decay(v[i], parameters["voltage_decay"][i]) + u[i]
                                           + parameters["bias"][i]))
                theta[i] = _decay(theta[i], parameters["adapt_decay"][i])
                level = parameters["threshold"][i] + theta[i]
                if v[i] > level and not holding and not (single[i] and fired[i]):
                    v[i] = v[i] - level if subtract[i] else 0
                    theta[i] = min(theta[i] + parameters["adapt_increment"][i], limit)
                    hold[i] = parameters["refractory"][i]
                    fired[i] = True
                    spiked.append(i)
                else:
                    hold[i] = max(hold[i] - 1, 0)
            for i in spiked:
                spikes_out[b, t, i] = True
            pending = [c for c in range(channels) if inputs[b, t, c]] + [network.n_inputs + i for i in spiked]
    return spikes_out


# ---- snnTorch ------------------------------------------------------------------------------

def snntorch_model(network: Network):
    """Build the same network from snnTorch CUBA layers (float32); return a function of the inputs."""
    import torch
    import snntorch

    hidden, out = network.populations
    to_hidden, recurrent, to_out = network.groups

    def linear(group: SynapseGroup) -> torch.nn.Linear:
        layer = torch.nn.Linear(*group.weights.shape, bias=False)
        scaled = np.where(group.mask, group.weights, 0) * float(1 << group.exponent)
        layer.weight.data = torch.tensor(scaled.T, dtype=torch.float32)
        return layer

    def decays(population: Population):
        alpha = torch.tensor(1.0 - (population.current_decay + 1) / DECAY_UNITY, dtype=torch.float32)
        beta = torch.tensor(1.0 - population.voltage_decay / DECAY_UNITY, dtype=torch.float32)
        return alpha, beta

    input_layer, output_layer = linear(to_hidden), linear(to_out)
    alpha, beta = decays(hidden)
    hidden_neurons = snntorch.RSynaptic(alpha, beta, linear_features=hidden.size, reset_mechanism="zero",
                                        threshold=torch.tensor(hidden.threshold, dtype=torch.float32))
    hidden_neurons.recurrent = linear(recurrent)
    alpha, beta = decays(out)
    output_neurons = snntorch.Synaptic(alpha, beta, reset_mechanism="zero",
                                       threshold=torch.tensor(out.threshold, dtype=torch.float32))

    def forward(inputs: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(inputs.astype(np.float32))
        batch, steps, _ = x.shape
        with torch.no_grad():
            spike_h, syn_h, mem_h = hidden_neurons.init_rsynaptic()
            syn_o, mem_o = output_neurons.init_synaptic()
            spike_h = torch.zeros(batch, hidden.size)
            counts = torch.zeros(batch, out.size)
            for t in range(steps):
                spike_h, syn_h, mem_h = hidden_neurons(input_layer(x[:, t]), spike_h, syn_h, mem_h)
                spike_o, syn_o, mem_o = output_neurons(output_layer(spike_h), syn_o, mem_o)
                counts += spike_o
        return counts.numpy()

    return forward


# ---- timing --------------------------------------------------------------------------------

def best_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def throughput(seconds: float, samples: int, network: Network) -> dict:
    return {"seconds": round(seconds, 6), "samples": samples,
            "samples_per_s": round(samples / seconds, 2),
            "neuron_steps_per_s": round(samples * network.timesteps * network.n_neurons / seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="samples per golden-model / snnTorch call")
    parser.add_argument("--timesteps", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is reported")
    parser.add_argument("--naive-samples", type=int, default=2, help="samples timed with the naive loop")
    parser.add_argument("--rate", type=float, default=0.1, help="input spike probability per channel and step")
    parser.add_argument("--skip-snntorch", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    core = CoreConfig()
    network = audio_network(rng, hidden=args.hidden, timesteps=args.timesteps)
    inputs = rng.random((args.batch, args.timesteps, network.n_inputs)) < args.rate

    golden_result = golden.run(network, core, inputs)  # warm-up, and the spikes the others are checked against
    naive_spikes = naive_run(network, core, inputs[:args.naive_samples])
    if not np.array_equal(naive_spikes, golden_result.spikes[:args.naive_samples]):
        raise SystemExit("the naive loop disagrees with the golden model; the comparison would be meaningless")

    report = {
        "benchmark": "golden model throughput, audio-sized network",
        "command": "python bench/bench_golden.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
                    "processor": platform.processor() or platform.machine(),
                    "load_average_1min": round(os.getloadavg()[0], 2),
                    "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS")},
        "network": {"inputs": network.n_inputs, "neurons": {p.name: p.size for p in network.populations},
                    "stored_synapses": network.synapses().count, "timesteps": network.timesteps,
                    "recurrent": True},
        "batch": args.batch,
        "input_rate": args.rate,
        "mean_spikes_per_sample": round(float(golden_result.spikes.sum()) / args.batch, 1),
        "naive_matches_golden_on_samples": args.naive_samples,
    }
    golden_seconds = best_time(lambda: golden.run(network, core, inputs), args.repeats)
    report["golden"] = throughput(golden_seconds, args.batch, network)
    naive_seconds = best_time(lambda: naive_run(network, core, inputs[:args.naive_samples]), 1)
    report["naive_loop"] = throughput(naive_seconds, args.naive_samples, network)
    report["speedup_vs_naive_loop"] = round(
        report["golden"]["samples_per_s"] / report["naive_loop"]["samples_per_s"], 1)
    if not args.skip_snntorch:
        import snntorch
        import torch

        forward = snntorch_model(network)
        golden_counts = golden_result.spikes[:, :, network.neuron_offset("out"):].sum(axis=1)
        # As asked: one thread per core. Also one thread: on a busy machine torch's worker threads
        # can slow it down, and the golden model should beat snnTorch's best, not its worst.
        for key, threads in (("snntorch", os.cpu_count() or 1), ("snntorch_1_thread", 1)):
            torch.set_num_threads(threads)
            counts = forward(inputs)  # warm-up
            seconds = best_time(lambda: forward(inputs), args.repeats)
            report[key] = throughput(seconds, args.batch, network)
            report[key].update(version=snntorch.__version__, torch=torch.__version__, threads=threads,
                               # float32 without truncation: close to, not equal to, the integer model
                               output_spike_count_agreement=round(float(np.mean(counts == golden_counts)), 3))
        fastest = max(report["snntorch"]["samples_per_s"], report["snntorch_1_thread"]["samples_per_s"])
        report["speedup_vs_fastest_snntorch"] = round(report["golden"]["samples_per_s"] / fastest, 2)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
