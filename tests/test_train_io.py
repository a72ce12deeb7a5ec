"""Export to network files, NIR import/export (incl. snnTorch graphs), Optuna search, CLI."""

import json
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from spikestream.cli import main as cli_main
from spikestream.model import golden, remove_dead_neurons, unused_inputs
from spikestream.model.config import CoreConfig
from spikestream.model.fileformat import load_network
from spikestream.model.generate import RandomNetworkOptions, random_inputs, random_network
from spikestream.model.network import INPUT, Network, Population, SynapseGroup
from spikestream.model.train.export import export_network, load_exported, sidecar_path
from spikestream.model.train.layers import ArchitectureConfig, build_model
from spikestream.model.train.synthetic import synthetic_dataset

CORE = CoreConfig()


def test_export_round_trip_with_frontend_sidecar(tmp_path):
    from spikestream.model.audio.config import FrontendConfig

    model = build_model(ArchitectureConfig(hidden=(8,)), 6, 3, 10, CORE, torch.Generator().manual_seed(0))
    network = model.to_network()
    path = tmp_path / "net.spkn"
    frontend = FrontendConfig(bands=6, frames=5, steps_per_frame=2)
    export_network(path, network, CORE, frontend, ["a", "b", "c"], training={"seed": 0})
    loaded, core, loaded_frontend, classes = load_exported(path)
    assert loaded == network and core == CORE
    assert loaded_frontend == frontend and classes == ["a", "b", "c"]
    assert json.loads(sidecar_path(path).read_text())["training"] == {"seed": 0}
    with pytest.raises(ValueError, match="2 class names for an output population of 3"):
        export_network(tmp_path / "bad.spkn", network, CORE, None, ["a", "b"])


# ---- NIR ------------------------------------------------------------------------------------

nir = pytest.importorskip("nir")
from spikestream.model.train.nir_io import NirUnsupported, from_nir, to_nir  # noqa: E402


def _nir_network(seed: int) -> Network:
    """A random network without the features NIR cannot express."""
    rng = np.random.default_rng(seed)
    network = random_network(rng, CORE, RandomNetworkOptions(neuron_options=False))
    populations = [Population(p.name, p.size, threshold=p.threshold, current_decay=p.current_decay,
                              voltage_decay=np.maximum(p.voltage_decay, 1)) for p in network.populations]
    return Network(network.n_inputs, populations, network.groups, network.timesteps, network.output,
                   network.decision)


@pytest.mark.parametrize("seed", range(4))
def test_nir_round_trip_keeps_the_behaviour(seed, tmp_path):
    network = _nir_network(seed)
    path = tmp_path / "graph.nir"
    nir.write(path, to_nir(network))
    back = from_nir(nir.read(path), CORE, timesteps=network.timesteps, decision=network.decision)
    inputs = random_inputs(np.random.default_rng(seed), network, 4)
    # Exponents may be chosen smaller (same w << e), so compare behaviour, not stored integers.
    np.testing.assert_array_equal(golden.run(back, CORE, inputs).spikes, golden.run(network, CORE, inputs).spikes)


def test_nir_export_names_no_two_nodes_alike():
    """A population may be called "output": the export's own Output node steps aside."""
    hidden = Population("h", 3, threshold=500, voltage_decay=400)
    network = Network(2, [hidden, Population("output", 2, threshold=500, voltage_decay=400)],
                      [SynapseGroup(INPUT, "h", np.full((2, 3), 40)),
                       SynapseGroup("h", "output", np.full((3, 2), 60))], 6, "output")
    graph = to_nir(network)
    assert len(graph.nodes) == 6 and type(graph.nodes["output"]).__name__ == "CubaLIF"
    back = from_nir(graph, CORE, timesteps=6, decision=network.decision)
    inputs = np.ones((1, 6, 2), bool)
    np.testing.assert_array_equal(golden.run(back, CORE, inputs).spikes, golden.run(network, CORE, inputs).spikes)


def test_nir_keeps_the_most_negative_weight_and_odd_weights_exact():
    """-128 << e fits exponent e (the int8 range is not symmetric): choosing e + 1 would halve the odd weights."""
    weights = np.array([[-128, 3], [127, -5]])
    network = Network(2, [Population("o", 2, threshold=1000, current_decay=400, voltage_decay=400)],
                      [SynapseGroup(INPUT, "o", weights, exponent=2)], 4, "o")
    back = from_nir(to_nir(network), CORE, timesteps=4, decision=network.decision)
    assert back.groups[0].exponent == 2 and back.groups[0].weights.tolist() == weights.tolist()


def test_nir_rejects_what_the_core_cannot_run():
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([4])),
                                "conv": nir.Conv1d(input_shape=4, weight=np.ones((2, 1, 3)), stride=1, padding=0,
                                                   dilation=1, groups=1, bias=np.zeros(2)),
                                "output": nir.Output(output_type=np.array([2]))},
                         edges=[("input", "conv"), ("conv", "output")], type_check=False)
    with pytest.raises(NirUnsupported, match="'conv' is a Conv1d"):
        from_nir(graph, CORE)
    population = Population("p", 2, threshold=10, refractory=2)
    network = Network(2, [population], [SynapseGroup("input", "p", np.ones((2, 2), np.int64))], 4, "p")
    with pytest.raises(NirUnsupported, match="refractory"):
        to_nir(network)


def _lif_graph(weight=np.array([[1.0, 0.5], [0.2, -0.4]]), bias=None, **lif):
    """Input(2) -> Affine/Linear -> LIF(2) -> Output, with LIF fields overridable."""
    fields = dict(tau=np.full(2, 5e-4), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    fields.update(lif)
    synapse = nir.Linear(weight=weight) if bias is None else nir.Affine(weight=weight, bias=bias)
    return nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([2])), "w": synapse, "lif": nir.LIF(**fields),
                               "output": nir.Output(output_type=np.array([2]))},
                        edges=[("input", "w"), ("w", "lif"), ("lif", "output")], type_check=False)


@pytest.mark.parametrize("graph, options, message", [
    (lambda: _lif_graph(tau=np.array([-5e-4, 5e-4])), {}, r"node 'lif': tau = -0.0005, expected a finite number > 0"),
    (lambda: _lif_graph(tau=np.array([5e-5, 5e-4])), {}, r"node 'lif': tau = 5e-05 is shorter than the step dt"),
    (lambda: _lif_graph(r=np.zeros(2)), {}, r"node 'lif': r = 0.0, expected a finite number > 0"),
    (lambda: _lif_graph(v_threshold=np.array([np.nan, 1.0])), {}, r"node 'lif': thresholds must be finite and >= 0"),
    (lambda: _lif_graph(weight=np.array([[np.inf, 0.5], [0.2, -0.4]])), {}, r"'w' has weights or biases that are not "
                                                                             r"finite"),
    (lambda: _lif_graph(weight=np.ones((1, 2))), {}, r"'w' \('input' -> 'lif'\) has weight shape \(1, 2\) \[out, in\], "
                                                     r"expected \(2, 2\)"),
    (lambda: _lif_graph(bias=np.zeros(3)), {}, r"'w' has bias shape \(3,\), expected \(2,\)"),
])
def test_nir_values_the_core_cannot_represent_are_refused_not_clipped(graph, options, message):
    with pytest.raises(NirUnsupported, match=message):
        from_nir(graph(), CORE, **options)


def test_nir_time_constants_a_float32_hair_below_dt_are_one_step():
    """snnTorch exports tau = dt / (1 - alpha) in float32: alpha = 0 gives 9.99999974e-05 for dt = 1e-4."""
    tau = np.float32(1e-4) / np.float32(1.0)
    assert float(tau) < 1e-4
    network = from_nir(_lif_graph(tau=np.full(2, tau, np.float32)), CORE)
    assert network.population("lif").voltage_decay.tolist() == [4095, 4095]


def test_nir_import_checks_its_own_settings_and_warns_of_weights_lost_to_rounding():
    for dt in (0, -1e-4, float("nan")):
        with pytest.raises(ValueError, match=r"dt = .*expected a finite number > 0"):
            from_nir(_lif_graph(), CORE, dt=dt)
    with pytest.warns(UserWarning, match=r"1 of the 4 nonzero weights of 'input' -> 'lif' round to 0 at exponent"):
        network = from_nir(_lif_graph(weight=np.array([[1000.0, 0.01], [800.0, -600.0]])), CORE, unit=64)
    assert int(np.sum(network.groups[0].weights == 0)) == 1


def test_snntorch_graph_imports_and_runs_like_snntorch():
    snn = pytest.importorskip("snntorch")
    pytest.importorskip("nirtorch")
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)
    beta, alpha = 0.875, 0.75  # multiples of 1/4096: the core's decays represent them exactly
    net = torch.nn.Sequential(
        torch.nn.Linear(8, 6, bias=False),
        snn.Synaptic(alpha=torch.full((6,), alpha), beta=torch.full((6,), beta), threshold=torch.ones(6),
                     init_hidden=True, reset_mechanism="zero"),
        torch.nn.Linear(6, 3, bias=False),
        snn.Leaky(beta=torch.full((3,), beta), threshold=torch.ones(3), init_hidden=True, output=True,
                  reset_mechanism="zero"))
    with torch.no_grad():
        net[0].weight.mul_(3.0)
    graph = export_to_nir(net, torch.zeros(8))
    network = from_nir(graph, CORE, timesteps=30)
    hidden, output = network.populations
    assert (hidden.current_decay + 1).tolist() == [1024] * 6 and hidden.voltage_decay.tolist() == [512] * 6
    assert output.current_decay.tolist() == [4095] * 3 and output.voltage_decay.tolist() == [512] * 3
    assert network.groups[0].weights.shape == (8, 6) and network.groups[1].weights.shape == (6, 3)
    # Until the first reset (snnTorch resets one step late) the membranes follow the same
    # equations: the first spike of every hidden neuron comes at the same step, one step
    # later on the core (it delivers every synapse a step after the spike).
    rng = np.random.default_rng(0)
    inputs = rng.random((30, 8)) < 0.3
    hidden_spikes = []
    net[1].register_forward_hook(lambda module, args, out: hidden_spikes.append(
        (out[0] if isinstance(out, tuple) else out).numpy().copy()))
    for module in net:
        if hasattr(module, "reset_hidden"):
            module.reset_hidden()
    with torch.no_grad():
        for t in range(30):
            net(torch.as_tensor(inputs[t], dtype=torch.float32))
    reference = np.array(hidden_spikes) > 0
    ours = golden.run(network, CORE, inputs).spikes[0][:, :6]

    def first_steps(raster):
        return np.where(raster.any(axis=0), raster.argmax(axis=0), -1)

    expected = first_steps(reference)
    assert np.sum(expected >= 0) >= 3
    np.testing.assert_array_equal(first_steps(ours), np.where(expected >= 0, expected + 1, -1))


# ---- Optuna and the command line ------------------------------------------------------------

def test_optuna_study_on_sqlite_runs_two_trials(tmp_path):
    pytest.importorskip("optuna")
    from spikestream.model.train.search import open_study, search
    from spikestream.model.train.trainer import TrainConfig

    data = synthetic_dataset(classes=2, per_class=8, channels=6, timesteps=8)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    training = TrainConfig(float_epochs=1, quant_epochs=1, batch_size=8, threads=1)
    search(data, data, 2, storage, "tiny", 2, ArchitectureConfig(hidden=(8,)), training, CORE, progress=False)
    study = open_study(storage, "tiny")  # a second worker joins the same study
    assert len(study.trials) == 2 and study.best_trial.value is not None
    assert study.trials[1].user_attrs["seed"] == 1


def _tiny_train(source, out, *options: str, hidden: int = 12, float_epochs: int = 2, batch_size: int = 12) -> list[str]:
    """``spikestream train`` arguments of a seconds-long training on the tiny rasters, ``options`` appended."""
    return ["train", str(source), "--out", str(out), "--hidden", str(hidden), "--float-epochs", str(float_epochs),
            "--quant-epochs", "1", "--batch-size", str(batch_size), "--no-progress", "--threads", "1", *options]


def test_cli_train_and_eval_on_tiny_rasters(tmp_path, capsys, monkeypatch, tiny_rasters):
    source, _ = tiny_rasters
    out = tmp_path / "tiny.spkn"
    assert cli_main(_tiny_train(source, out, "--json")) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["network"] == str(out)
    network, _ = load_network(out)
    assert network.n_inputs == 8 and network.population("output").size == 3
    assert summary["dead_neurons"] == network.n_neurons - remove_dead_neurons(network)[0].n_neurons
    # Pruned hard, the hidden layer loses neurons, and the command says how to drop them.
    pruned = tmp_path / "pruned.spkn"
    assert cli_main(_tiny_train(source, pruned, "--prune", "magnitude", "--connectivity", "0.05")) == 0
    printed = capsys.readouterr().out
    dead = load_network(pruned)[0].n_neurons - remove_dead_neurons(load_network(pruned)[0])[0].n_neurons
    assert dead > 0
    assert f"{dead} neurons lost all their fan-in or fan-out to pruning" in printed
    assert f"spikestream info {pruned} --remove-dead-neurons" in printed
    sidecar = json.loads(sidecar_path(pruned).read_text())
    assert sidecar["training"]["training"]["pruning"]["useful_only"] is True

    def pruned(name: str, *options: str) -> dict:
        """Train a magnitude-pruned network with ``options``; return the pruning settings its sidecar records."""
        assert cli_main(_tiny_train(source, tmp_path / name, "--prune", "magnitude", *options)) == 0
        capsys.readouterr()
        return json.loads(sidecar_path(tmp_path / name).read_text())["training"]["training"]["pruning"]

    assert pruned("plain.spkn", "--connectivity", "0.05", "--prune-dead-too")["useful_only"] is False
    assert pruned("busy.spkn", "--connectivity", "0.05", "--prune-activity-exponent", "1")["activity_exponent"] == 1.0
    narrow = tmp_path / "narrow.spkn"
    assert pruned(narrow.name, "--connectivity", "0.3", "--prune-input-channels", "0.5")["input_channels"] == 0.5
    assert int((~unused_inputs(load_network(narrow)[0])).sum()) <= 4, "at most half of the 8 channels keep synapses"
    # eval says so, and leaves their events out on request: same decisions, fewer cycles.
    assert cli_main(["eval", str(narrow), str(source), "--split", "all"]) == 0
    assert "their events sent (--leave-out-unused-inputs leaves them out" in capsys.readouterr().out
    reports = []
    for extra in ([], ["--leave-out-unused-inputs"]):
        assert cli_main(["eval", str(narrow), str(source), "--split", "all", "--json", *extra]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    whole, lean = reports
    assert lean["unused_input_channels"] == whole["unused_input_channels"] >= 4 and lean["unused_input_events_left_out"]
    assert lean["accuracy"] == whole["accuracy"] and lean["confusion"] == whole["confusion"]
    assert lean["cycles_per_sample"]["mean"] < whole["cycles_per_sample"]["mean"]
    assert lean["input_events_per_sample"]["mean"] < whole["input_events_per_sample"]["mean"]
    for method in ("none", "rewire"):
        assert cli_main(["train", str(source), "--out", str(tmp_path / "x.spkn"), "--prune", method,
                         "--prune-dead-too", "--no-progress"]) == 2
        assert f"--prune-dead-too is a rule of magnitude pruning; --prune is {method}" in capsys.readouterr().err
        assert cli_main(["train", str(source), "--out", str(tmp_path / "x.spkn"), "--prune", method,
                         "--prune-activity-exponent", "0.5", "--no-progress"]) == 2
        assert (f"--prune-activity-exponent: activity exponent 0.5 weighs the magnitude score; pruning method is "
                f"{method}, expected magnitude") in capsys.readouterr().err
    for bad in ("-1", "nan"):
        assert cli_main(["train", str(source), "--out", str(tmp_path / "x.spkn"), "--prune", "magnitude",
                         "--prune-activity-exponent", bad, "--no-progress"]) == 2
        assert (f"--prune-activity-exponent: activity exponent {float(bad)} must be a finite number >= 0"
                in capsys.readouterr().err)
    assert cli_main(["eval", str(out), str(source), "--compare", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["samples"] == 6 and report["quant_golden_decision_mismatches"] == 0
    assert np.array(report["confusion"]).sum() == 6 and report["cycles_per_sample"]["mean"] > 0
    assert cli_main(["eval", str(out), str(source)]) == 0
    assert "confusion" in capsys.readouterr().out
    assert cli_main(["eval", str(out), str(source), "--by-speaker"]) == 2
    assert "--by-speaker: " + str(source) + " names no speakers" in capsys.readouterr().err


def test_cli_eval_on_the_rtl(tmp_path, capsys, monkeypatch, tiny_rasters):
    """``eval --backend rtl`` on the Verilator core (the default core's build is the demo test's):
    a clean run exits 0, a disagreement 1, a missing simulator 3 with what to install."""
    from spikestream.model.train import evaluate as evaluate_module
    from spikestream.sim import stream_player

    source, _ = tiny_rasters
    out = tmp_path / "tiny.spkn"
    assert cli_main(_tiny_train(source, out)) == 0
    capsys.readouterr()
    assert cli_main(["eval", str(out), str(source), "--backend", "rtl", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["samples"] == 6 and report["backend"] == "rtl"
    assert report["rtl_golden_decision_mismatches"] == 0 and report["rtl_golden_cycle_mismatches"] == 0
    assert report["rtl_accuracy"] == report["accuracy"]
    assert cli_main(["eval", str(out), str(source), "--backend", "rtl", "--limit", "2"]) == 0
    assert "rtl accuracy: " in capsys.readouterr().out

    real = stream_player.run_network

    def one_cycle_off(network, core, inputs):
        decisions, cycles = real(network, core, inputs)
        return decisions, np.asarray(cycles) + np.eye(1, len(cycles), dtype=np.int64)[0]

    monkeypatch.setattr(stream_player, "run_network", one_cycle_off)
    assert cli_main(["eval", str(out), str(source), "--backend", "rtl", "--limit", "2", "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["rtl_golden_cycle_mismatches"] == 1
    assert "disagrees with the golden model on 0 decisions and 1 cycle counts" in captured.err
    monkeypatch.setattr(evaluate_module, "RTL_REQUIREMENTS", ("amaranth", "no_such_simulator_package"))
    assert cli_main(["eval", str(out), str(source), "--backend", "rtl"]) == 3
    assert "needs no_such_simulator_package (pip install 'spikestream[sim]')" in capsys.readouterr().err


@pytest.mark.parametrize("options, message", [
    (["--hidden", "abc"], "--hidden abc: expected hidden population sizes, comma separated"),
    (["--hidden", "64,0"], "--hidden: hidden = (64, 0), expected a non-empty tuple of whole numbers >= 1"),
    (["--batch-size", "0"], "--batch-size: batch_size = 0, expected a whole number >= 1"),
    (["--float-epochs", "-1"], "--float-epochs: float_epochs = -1, expected a whole number >= 0"),
    (["--lr", "-1"], "--lr: learning_rate = -1.0, expected a finite number > 0"),
    (["--quant-lr", "nan"], "--quant-lr: quant_learning_rate = nan, expected a finite number > 0"),
    (["--tau-mem", "0.5"], "--tau-mem: tau_mem = 0.5, expected a finite number of steps >= 1"),
    (["--tau-syn", "-2"], "--tau-syn: tau_syn = -2.0, expected a finite number of steps >= 0"),
    (["--input-dropout", "1.5"], "--input-dropout: input_dropout = 1.5, expected a probability in [0, 1)"),
    (["--shift=-3"], "--shift: shift = -3, expected a whole number >= 0"),
    (["--adaptation=-5"], "--adaptation: adaptation = -5, expected a whole number >= 0"),
    (["--prune", "magnitude", "--connectivity", "1.5"], "--connectivity: pruning target 1.5 is outside (0, 1]"),
    (["--prune", "magnitude", "--connectivity", "0"], "--connectivity: pruning target 0.0 is outside (0, 1]"),
    (["--connectivity", "0.3"], "--connectivity 0.3 needs a pruning method"),
    (["--early-exit"], "--early-exit stops a sample at its first output spike; it needs --decision first_spike"),
    (["--checkpoint", "no/such/folder/ck.pt"], "--checkpoint no/such/folder/ck.pt: the folder"),
    (["--device", "bogus"], "--device bogus: expected auto, cpu, cuda or cuda:N"),
    (["--prune", "magnitude", "--connectivity", "0.5", "--prune-input-channels", "0"],
     "--prune-input-channels: input channel fraction 0.0 is outside (0, 1]"),
    (["--prune", "rewire", "--connectivity", "0.5", "--prune-input-channels", "0.5"],
     "--prune-input-channels: input channel fraction 0.5 is a magnitude-pruning budget"),
    (["--search", "2", "--prune", "magnitude", "--connectivity", "0.3"],
     "--search draws each trial's pruning itself; --prune, --connectivity would be ignored"),
    (["--search", "1", "--storage", "bogus"], "--storage bogus: expected an RDB URL (e.g. sqlite:///study.db) or "
                                              "journal:FILE"),
])
def test_cli_train_refuses_bad_options_before_loading_data(tmp_path, capsys, options, message):
    """Checked before any data loads or any training runs: the data source here does not even exist."""
    assert cli_main(["train", str(tmp_path / "no-data.npz"), "--out", str(tmp_path / "x.spkn")] + options) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("error:") == 1, err


def test_cli_train_checks_the_output_folder_first(tmp_path, capsys):
    out = tmp_path / "missing" / "x.spkn"
    assert cli_main(["train", str(tmp_path / "no-data.npz"), "--out", str(out)]) == 2
    assert f"--out {out}: the folder {out.parent} does not exist" in capsys.readouterr().err


def test_cli_eval_by_speaker_reports_every_speaker_worst_first(tmp_path, capsys, monkeypatch, tone_folder):
    monkeypatch.setenv("SPIKESTREAM_CACHE", str(tmp_path / "cache"))
    voices = [("train", name, 1.0 + 0.04 * k) for k, name in enumerate("abcd")] + \
             [("test", "low_voice", 1.16), ("test", "high_voice", 1.2)]
    source = tone_folder(tmp_path / "voices", voices, {"low": 400.0, "high": 2400.0}, takes=2)
    out = tmp_path / "voices.spkn"
    assert cli_main(_tiny_train(source, out, hidden=8, float_epochs=3, batch_size=8)) == 0
    capsys.readouterr()
    assert cli_main(["eval", str(out), str(source), "--by-speaker", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = report["accuracy_by_speaker"]
    assert sorted(row["speaker"] for row in rows) == ["high_voice", "low_voice"]
    assert all(row["samples"] == 4 for row in rows)
    assert [row["accuracy"] for row in rows] == sorted(row["accuracy"] for row in rows)
    assert np.mean([row["accuracy"] for row in rows]) == pytest.approx(report["accuracy"])
    # Every sample once (this source has no val split: the test part validates), in the text report too.
    assert cli_main(["eval", str(out), str(source), "--by-speaker", "--split", "all"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("samples: 24 ")
    assert "accuracy by speaker (worst first):" in printed
    for name in ("a", "b", "c", "d", "low_voice", "high_voice"):
        assert re.search(rf"^  {name}\s+[\d.]+ % of 4$", printed, re.M), name
    assert cli_main(["eval", str(out), str(source), "--by-speaker", "--split", "all", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["accuracy_by_speaker"]
    assert sum(row["samples"] for row in rows) == 24 and len(rows) == 6


def test_evaluate_by_speaker_matches_the_decisions():
    from spikestream.model.train.evaluate import evaluate, run_golden

    rng = np.random.default_rng(4)
    network = random_network(rng, CORE, RandomNetworkOptions(learning=False, pruning=False))
    inputs = random_inputs(rng, network, 30)
    labels = np.arange(30) % network.population(network.output).size
    speakers = np.array(["x", "y", "z"])[np.arange(30) // 10]
    decisions = run_golden(network, CORE, inputs)["decision"]
    report = evaluate(network, CORE, inputs, labels, speakers=speakers)
    expected = {name: float(np.mean((decisions == labels)[speakers == name])) for name in "xyz"}
    assert {row["speaker"]: row["accuracy"] for row in report["accuracy_by_speaker"]} == expected
    assert [row["accuracy"] for row in report["accuracy_by_speaker"]] == sorted(expected.values())
    assert "accuracy_by_speaker" not in evaluate(network, CORE, inputs, labels)
    with pytest.raises(ValueError, match="29 speakers for 30 samples"):
        evaluate(network, CORE, inputs, labels, speakers=speakers[:29])
    with pytest.raises(ValueError, match="name no speakers"):
        evaluate(network, CORE, inputs, labels, speakers=np.full(30, ""))


def test_command_line_parses_without_importing_torch():
    # The board has no torch: building the parser (every subcommand's options) must not need it.
    import subprocess
    import sys

    code = "import sys; from spikestream.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("setting", ["full", "quick"])
def test_demo_networks_fit_the_default_core(setting):
    # The demo exports for CoreConfig(): its front end's channels and its network, for
    # the digits and for all 36 words, must fit (build_network checks, and raises if not).
    from spikestream.model.audio.config import FrontendConfig
    from spikestream.model.network import DecisionMode
    from spikestream.model.train.demo import DEMO_SETTINGS
    from spikestream.model.train.layers import build_network

    settings = DEMO_SETTINGS[setting]
    frontend = FrontendConfig(encoder=settings["encoder"])
    assert frontend.channels <= CORE.max_inputs
    for classes in (10, 36):
        network = build_network(ArchitectureConfig(hidden=settings["hidden"], decision=DecisionMode.MAX_POTENTIAL),
                                frontend.channels, classes, frontend.timesteps, CORE)
        assert network.n_inputs == frontend.channels


def test_training_settings_round_trip_through_json():
    from spikestream.model.train.prune import PruningConfig
    from spikestream.model.train.trainer import TrainConfig

    for config in (TrainConfig(), TrainConfig(float_epochs=3, learning_rate=1e-2, cosine=True, shift=2,
                                              pruning=PruningConfig("magnitude", target=0.3, activity_exponent=1.0))):
        written = json.dumps(config.to_dict())
        assert TrainConfig.from_dict(json.loads(written)) == config
    assert TrainConfig.from_dict({"batch_size": 8}) == TrainConfig(batch_size=8)
    with pytest.raises(ValueError, match=r"unknown training settings \['epochs'\], expected a subset of"):
        TrainConfig.from_dict({"epochs": 3})


def test_cli_train_passes_the_architecture_options_on(tmp_path, capsys, tiny_rasters):
    """--arch, --reset, --refractory, --decision, --tau-syn, --early-exit and --cosine reach the exported network
    and the sidecar (a swapped or dropped option would train something else)."""
    source, _ = tiny_rasters
    out = tmp_path / "options.spkn"
    assert cli_main(_tiny_train(source, out, "--json", "--arch", "self_recurrent", "--reset", "zero", "--refractory",
                                "2", "--decision", "first_spike", "--early-exit", "--tau-syn", "1", "--cosine",
                                "--seed", "3", hidden=6, float_epochs=1)) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["architecture"]["architecture"] == "self_recurrent" and summary["training"]["cosine"] is True
    assert summary["training"]["seed"] == 3
    network, _ = load_network(out)
    hidden = network.population("hidden0")
    assert hidden.reset.value == "zero" and hidden.refractory.tolist() == [2] * 6
    assert summary["architecture"]["tau_syn"] == 1.0  # its initial du (4095) is tested in test_train_learning
    assert any(g.source == g.target == "hidden0" for g in network.groups), "the self-recurrent group"
    assert network.decision.mode.value == "first_spike" and network.decision.early_exit


def test_cli_train_search_trains_the_best_trial(tmp_path, capsys, tiny_rasters):
    """--search runs the trials into the shared --storage / --study, then trains the best one's configuration."""
    import optuna

    source, _ = tiny_rasters
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    out = tmp_path / "best.spkn"
    assert cli_main(_tiny_train(source, out, "--json", "--search", "2", "--storage", storage, "--study", "cli",
                                hidden=8, float_epochs=1)) == 0
    summary = json.loads(capsys.readouterr().out)
    best = optuna.load_study(study_name="cli", storage=storage).best_trial
    assert len(optuna.load_study(study_name="cli", storage=storage).trials) == 2
    assert summary["architecture"]["hidden"] == [best.params["hidden"]]
    assert summary["architecture"]["architecture"] == best.params["architecture"]
    assert summary["training"]["learning_rate"] == pytest.approx(best.params["learning_rate"])
    assert load_network(out)[0].population("hidden0").size == best.params["hidden"]


def test_cli_refuses_files_and_options_that_do_not_match(tmp_path, capsys, tiny_rasters):
    """Audio-only options on rasters, a foreign checkpoint, a damaged sidecar, a negative seed, an --out that is
    a file: one line that says what was wrong, no traceback."""
    source, _ = tiny_rasters
    out = tmp_path / "x.spkn"
    base = _tiny_train(source, out, hidden=6, float_epochs=1)
    for option in (["--encoder", "rate"], ["--augment-copies", "2"]):
        assert cli_main(base + option) == 2
        assert f"{option[0]}: {source} holds spike rasters; {option[0]} applies to audio sources only" in \
            capsys.readouterr().err
    foreign = tmp_path / "foreign.pt"
    foreign.write_bytes(b"not a checkpoint")
    assert cli_main(base + ["--checkpoint", str(foreign)]) == 2
    assert f"--checkpoint {foreign} is not a spikestream training checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(base + ["--seed=-1"])
    assert "argument --seed: expected a whole number >= 0, got -1" in capsys.readouterr().err
    assert cli_main(base) == 0
    capsys.readouterr()
    for text, message in (('{"frontend": 5}', "expected a JSON object whose 'frontend' is an object or null"),
                          ("[1, 2]", "expected a JSON object"), ("not json", "is not the JSON sidecar spikestream "
                                                                              "writes"),
                          ('{"frontend": {"bogus": 1}}', "its front end is not valid: FrontendConfig: unknown field")):
        sidecar_path(out).write_text(text)
        assert cli_main(["eval", str(out), str(source)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    # A file without a test split cannot be trained on (nothing to score), but a test-only file can be evaluated.
    from spikestream.model.train.data import load_splits, save_npz

    rasters = load_splits(source)
    save_npz(tmp_path / "no_test.npz", rasters.train.inputs, rasters.train.labels, np.full(24, "train"), ("x", "y", "z"))
    assert cli_main(["train", str(tmp_path / "no_test.npz"), "--out", str(tmp_path / "y.spkn")]) == 2
    assert "no_test.npz has no samples in its test split; training needs both" in capsys.readouterr().err
    sidecar_path(out).unlink()
    save_npz(tmp_path / "test_only.npz", rasters.test.inputs, rasters.test.labels, np.full(6, "test"), ("x", "y", "z"))
    assert cli_main(["eval", str(out), str(tmp_path / "test_only.npz"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 6
    (tmp_path / "taken").write_text("a file")
    assert cli_main(["demo", "--out", str(tmp_path / "taken"), "--quick"]) == 2
    assert "--out " + str(tmp_path / "taken") + " is a file; the demo writes a folder" in capsys.readouterr().err
    assert cli_main(["info", str(out), "--remove-dead-neurons", str(tmp_path / "no" / "such" / "x.spkn")]) == 2
    assert f"the folder {tmp_path / 'no' / 'such'} does not exist" in capsys.readouterr().err


def test_cli_eval_splits_limit_and_classes(tmp_path, capsys, tiny_rasters):
    """--split picks the part, --limit the first N, and data of other classes is refused, not scored."""
    from spikestream.model.train.data import save_npz

    source, data = tiny_rasters
    out = tmp_path / "tiny.spkn"
    assert cli_main(_tiny_train(source, out, hidden=6, float_epochs=1)) == 0
    capsys.readouterr()
    for split, count in (("train", 24), ("val", 6), ("test", 6), ("all", 36)):
        assert cli_main(["eval", str(out), str(source), "--split", split, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["samples"] == count, split
    assert cli_main(["eval", str(out), str(source), "--split", "train", "--limit", "5", "--json"]) == 0
    limited = json.loads(capsys.readouterr().out)
    network, _ = load_network(out)
    first = golden.run(network, CORE, data.inputs[:5]).decision
    assert limited["samples"] == 5 and limited["accuracy"] == float(np.mean(first == data.labels[:5]))
    assert cli_main(["eval", str(out), str(source), "--split", "holdout"]) == 2
    assert f"{source} has no 'holdout' split" in capsys.readouterr().err
    other = tmp_path / "other.npz"
    save_npz(other, data.inputs, data.labels, np.array(["train"] * 24 + ["val"] * 6 + ["test"] * 6), ("p", "q", "r"))
    assert cli_main(["eval", str(out), str(other)]) == 2
    assert "belong to the network's classes ['x', 'y', 'z']; the data's classes are ['p', 'q', 'r']" in \
        capsys.readouterr().err
