"""The benchmark suite runs end to end (`--quick`) and its charts draw (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"
# Each test runs a script doing ~10 s of CPU work (the quick run, matplotlib's charts):
# several times the 60 s default on a busy machine.
pytestmark = pytest.mark.timeout(300)


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_the_quick_run_measures_every_target_and_writes_json(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = _run("run.py", "--quick", "--output", str(output))
    results = json.loads(output.read_text())

    for key in ("c1", "c64"):
        section = results["creates"]["by_concurrency"][key]
        for client in ("ecomcharge_async", "raw_aiohttp"):
            figures = section["clients"][client]
            assert figures["creates_per_s"]["median"] > 0
            assert figures["cpu_us_per_create"]["rounds"][0] > 0
        assert section["ratios"]["cpu_vs_raw"]["median"] > 0
    assert results["decoding"]["customers"] == 300
    listing = results["listing"]
    assert (listing["customers"], listing["small_customers"]) == (300, 30)
    assert listing["ratios"]["iter_vs_list"]["median"] > 0
    assert listing["peak_traced_memory"]["list_big_kib"] > 0
    assert results["codec"]["us_per_call"]["encode_new_customer"]["median"] > 0
    startup = results["startup"]
    assert startup["import"]["ours_ms"]["median"] > 0
    assert "bulk_import" not in results  # --quick leaves the long bulk import out

    targets = {t["what"]: t for t in results["targets"]}
    assert len(targets) == 16
    for what, target in targets.items():
        if target["measured"] is not None:
            assert target["holds"] is (
                target["measured"] <= target["bound"]
                if target["target"].startswith("<=")
                else target["measured"] >= target["bound"]
            ), what
            mark = "PASS" if target["holds"] else "FAIL"
            assert any(
                line.startswith(f"  {what}") and mark in line for line in done.stdout.splitlines()
            )
    for measured_here in (
        "client CPU/create vs raw aiohttp, c=64",
        "creates/s vs raw aiohttp, c=64",
        "iter() vs list(), time per customer",
        "iter() peak memory, 10x the customers",
        "import ecomcharge_async vs import aiohttp",
    ):
        assert targets[measured_here]["measured"] is not None, measured_here
    assert targets["bulk peak RSS, 200,000 vs 20,000 rows"]["holds"] is None
    # The peers live only in the bench environment; without them the run says which it skipped.
    if "pydantic" in results["decoding"]["skipped"]:
        assert "nox -s bench" in results["decoding"]["skipped"]["pydantic"]
        assert targets["list() decode vs pydantic validate_json"]["holds"] is None


def _fixture() -> dict[str, Any]:
    """A tiny results file of the shape run.py writes, with bepaid and pydantic present."""

    def fig(median: float) -> dict[str, Any]:
        return {"median": median, "min": median, "max": median, "rounds": [median]}

    def client(cpu: float, rate: float) -> dict[str, Any]:
        return {"cpu_us_per_create": fig(cpu), "creates_per_s": fig(rate)}

    def section(ours: float, raw: float, bepaid: float) -> dict[str, Any]:
        return {
            "clients": {
                "ecomcharge_async": client(ours, 1e6 / ours),
                "raw_aiohttp": client(raw, 1e6 / raw),
                "bepaid": client(bepaid, 1e6 / bepaid),
            },
            "ratios": {"cpu_vs_raw": fig(ours / raw), "rate_vs_raw": fig(raw / ours)},
        }

    return {
        "started": "2026-12-01T10:00:00+0000",
        "rounds": 1,
        "machine": {
            "cpus": 2,
            "python": "3.11.7",
            "load_average_at_start": [0.5, 0, 0],
            "load_average_at_end": [1.5, 0, 0],
        },
        "creates": {"by_concurrency": {"c1": section(190, 170, 900), "c64": section(95, 86, 2100)}},
        "decoding": {
            "customers": 10,
            "decoders": {
                name: {"ms": fig(ms)}
                for name, ms in (
                    ("ecomcharge_async", 18.0),
                    ("pydantic", 23.0),
                    ("json_loads", 12.0),
                )
            },
            "ratios": {"vs_pydantic": fig(18.0 / 23.0)},
        },
        "codec": {
            "us_per_call": {
                "encode_new_customer": fig(1.1),
                "decode_customer": fig(2.0),
                "pydantic_model_dump_json": fig(1.6),
                "pydantic_model_validate_json": fig(2.4),
            }
        },
        "import_peer": {
            "rows": 20_000,
            "rounds": 1,
            "contenders": {
                name: {"cpu_us_per_row": fig(cpu), "rows_per_s": fig(rate)}
                for name, cpu, rate in (
                    ("script", 120, 9000),
                    ("sdk", 125, 8800),
                    ("cli_default", 131, 8100),
                )
            },
            "ratios": {"cli_default_cpu_vs_script": fig(1.09), "sdk_rate_vs_script": fig(0.98)},
        },
    }


def _layers_fixture() -> dict[str, Any]:
    """A small layers.json of the shape layers.py writes."""
    levels = {"transport": 20_000, "attempt": 22_000, "chain": 31_000, "send": 48_000}
    return {
        "levels": {name: {"instructions": n} for name, n in {**levels, "create": 66_000}.items()},
        "timer": {"instructions_added": 36_000},
        "json": {
            "encode_new_customer": {"instructions": 7_000},
            "decode_customer": {"instructions": 12_000},
            "json.dumps+encode": {"instructions": 35_000},
            "json.loads": {"instructions": 36_000},
        },
        "loopback_c64": {
            "ecomcharge_async": {"instructions": 590_000},
            "raw_aiohttp": {"instructions": 620_000},
        },
    }


def test_the_charts_draw_from_a_results_file_and_name_the_run(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps(_fixture()))
    layers = tmp_path / "layers.json"
    layers.write_text(json.dumps(_layers_fixture()))
    out = tmp_path / "images"
    _run("charts.py", "--results", str(results), "--layers", str(layers), "--out", str(out))

    creates = (out / "bench-creates.svg").read_text()
    decoding = (out / "bench-decoding.svg").read_text()
    assert creates.startswith("<?xml")
    assert creates.rstrip().endswith("</svg>")
    assert "load average 0.5 at start, 1.5 at end" in creates
    for label in ("raw aiohttp", "bepaid", "2,100 (cut)", "ours/raw 1.10x", "c=64"):
        assert label in creates, label
    for label in ("pydantic", "ours/pydantic 0.78x", "decode Customer", "2.40"):
        assert label in decoding, label
    drawn = (out / "bench-layers.svg").read_text()
    for label in ("+ retry, logging", " 9,000", " 18,000", "a create: 66,000", "590.0", "620.0"):
        assert label in drawn, label
    peer = (out / "bench-import-peer.svg").read_text()
    for label in ("hand-written script", "import, defaults", "1.09x the script", "8,100"):
        assert label in peer, label
    assert "load average 0.5 at start" in peer
    first = {path.name: path.read_bytes() for path in out.iterdir()}
    _run("charts.py", "--results", str(results), "--layers", str(layers), "--out", str(out))
    assert {path.name: path.read_bytes() for path in out.iterdir()} == first  # reproducible


def test_the_sync_benchmark_measures_both_concurrencies(tmp_path: Path) -> None:
    output = tmp_path / "sync.json"
    done = _run("sync_calls.py", "--quick", "--output", str(output))
    results = json.loads(output.read_text())
    for key in ("c1", "c32"):
        for kind in ("async", "sync"):
            assert results[key]["wall_us_per_call"][kind]["median"] > 0
        assert "added_wall_us" in results[key]
        assert f"{key}: async " in done.stdout
    assert results["c1"]["inline_added_cpu_us"]["median"] != 0
    # Counted: 32 threads waiting for their calls switch; one caller running the loop
    # itself may not switch at all.
    assert results["c32"]["voluntary_switches_per_call"]["sync"]["median"] > 0
    assert results["c1"]["voluntary_switches_per_call"]["sync"]["median"] >= 0
    assert "c1 inline" in done.stdout


def test_the_sync_benchmark_runs_the_32_thread_rounds_alone(tmp_path: Path) -> None:
    output = tmp_path / "sync32.json"
    done = _run("sync_calls.py", "--quick", "--concurrency", "32", "--output", str(output))
    results = json.loads(output.read_text())
    assert "c1" not in results
    assert "hop" not in results
    assert results["c32"]["wall_us_per_call"]["sync"]["median"] > 0
    assert "c32: async " in done.stdout
    assert "c1" not in done.stdout
    assert len(results["load_average_at_end"]) == 3


def test_the_import_peers_run_and_each_row_is_created_exactly_once(tmp_path: Path) -> None:
    # Tiny sizes: the figures mean nothing here; the server's exactly-once check does.
    peer = tmp_path / "peer.json"
    done = _run("import_peer.py", "--rows", "40", "--rounds", "1", "--output", str(peer))
    result = json.loads(peer.read_text())
    assert set(result["contenders"]) == {"script", "sdk", "cli", "cli_journal", "cli_default"}
    assert result["ratios"]["cli_journal_cpu_vs_script"]["median"] > 0
    assert result["ratios"]["sdk_cpu_vs_script"]["median"] > 0
    assert result["ratios"]["cli_default_rate_vs_script"]["median"] > 0
    assert "cli_default" in done.stdout
    assert [t["holds"] in (True, False) for t in result["targets"]] == [True, True]
    assert "defaults: client CPU per row / the script's" in done.stdout


def test_the_shaped_apis_measure_429s_and_report_what_the_cli_cannot_take(
    tmp_path: Path,
) -> None:
    out = tmp_path / "auto.json"
    done = _run(
        "auto_concurrency.py", "--rows", "120", "--rounds", "1", "--apis", "bucket",
        "--settings", "64", "not-a-setting", "--output", str(out),
    )  # fmt: skip
    result = json.loads(out.read_text())
    run = result["apis"]["bucket"]["64"]
    # 64 at once against a burst of 25: the bucket answers some with 429.
    assert run["share_429"]["median"] > 0
    assert result["skipped"] == ["bucket --concurrency not-a-setting: the CLI does not take it yet"]
    assert "not measured" in done.stdout


def test_the_concurrency_chart_draws_the_limit_and_the_pace(tmp_path: Path) -> None:
    results = tmp_path / "preview.json"
    auto = {"series_first_round": [[0.0, 8, None], [0.25, 12, 425.0], [0.5, 12, 236.6]]}
    results.write_text(json.dumps({
        "rows": 1000, "rounds": 1, "load_average": {"start": [0.5], "end": [1.5]},
        "apis": {"bucket": {"auto": auto}, "slow": {"auto": {"series_first_round": [
            [0.0, 8, None], [0.25, 16, None]]}}},
    }))  # fmt: skip
    out = tmp_path / "chart.svg"
    _run("concurrency_chart.py", "--results", str(results), "--out", str(out))
    drawn = out.read_text()
    for label in ("token bucket 250/s", "no limit, 200 ms", "pace, requests/s", "load average 0.5"):
        assert label in drawn, label
