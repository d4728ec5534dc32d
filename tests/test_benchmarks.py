"""The benchmark suite runs end to end and writes its figures (tiny sizes; no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).parent.parent / "benchmarks" / "run.py"


def test_the_suite_runs_and_writes_every_figure_as_json(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    args = ["--rounds", "1", "--creates", "20", "--concurrency", "1", "4", "--list-size", "30"]
    args += ["--fake-calls", "20", "--only", "creates", "decoding", "overhead"]
    done = subprocess.run(
        [sys.executable, str(RUN), *args, "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(output.read_text())
    assert "targets (ours / theirs" in done.stdout

    for key in ("c1", "c4"):
        section = results["creates"]["by_concurrency"][key]
        for client in ("ecomcharge_async", "raw_aiohttp"):
            figures = section["clients"][client]
            assert figures["creates_per_s"]["median"] > 0
            assert figures["cpu_us_per_create"]["rounds"][0] > 0
        assert section["ratios"]["cpu_vs_raw"]["median"] > 0
    decoding = results["decoding"]
    assert decoding["customers"] == 30
    assert {"ecomcharge_async", "json_loads", "msgspec_loads"} <= set(decoding["decoders"])
    assert results["overhead"]["us_per_call"]["client"]["median"] > 0
    # The peers live only in the bench environment; without them the run says so.
    if "bepaid" not in results["creates"]["by_concurrency"]["c1"]["clients"]:
        assert "nox -s bench" in results["creates"]["skipped"]["bepaid"]
    targets = {t["what"]: t for t in results["targets"]}
    assert len(targets) == 7
    assert targets["client CPU/create vs raw aiohttp, c=1"]["measured"] > 0
    assert targets["client CPU/create vs raw aiohttp, c=64"]["holds"] is None  # c=64 not run
