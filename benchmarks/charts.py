"""Charts of the benchmark results, as SVG for the performance guide.

    python benchmarks/charts.py [--results benchmarks/results/latest.json] [--out docs/images]

Draws from the results JSON that `run.py` writes (needs matplotlib; `nox -s
bench` installs it and runs this after `run.py`):

- `bench-creates.svg`: client CPU per create and creates per second of our
  Client, raw aiohttp and bepaid, at each concurrency measured;
- `bench-decoding.svg`: decoding the list against pydantic and the bare JSON
  parsers, and, when measured, one object each way against pydantic;
- `bench-layers.svg`, from `layers.json` (`layers.py`, valgrind): the
  instructions each layer adds to a create, and a whole create over loopback
  against raw aiohttp;
- `bench-import-peer.svg`, from `import_peer.json` (`import_peer.py`): client
  CPU per row and rows/s of `ecomcharge import` against the hand-written script.

Each chart names the run it comes from (date, CPUs, load average), so a chart
of a noisy run says so. The SVGs are byte-for-byte reproducible from the JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("svg")
from matplotlib.axes import Axes
from matplotlib.figure import Figure

HERE = Path(__file__).resolve().parent
DEFAULT_RESULTS = HERE / "results" / "latest.json"
DEFAULT_LAYERS = HERE / "results" / "layers.json"
DEFAULT_PEER = HERE / "results" / "import_peer.json"
PEERS = {"script": "hand-written script", "sdk": "the script on our client",
         "cli": "import, c={c}, no journal", "cli_journal": "import, c={c}, journal",
         "cli_default": "import, defaults"}  # fmt: skip
DEFAULT_OUT = HERE.parent / "docs" / "images"
CLIENTS = {"ecomcharge_async": "ecomcharge-async", "raw_aiohttp": "raw aiohttp", "bepaid": "bepaid"}
COLOURS = {
    "ecomcharge_async": "#2b6cb0",
    "raw_aiohttp": "#718096",
    "bepaid": "#dd6b20",
    "pydantic": "#dd6b20",
    "json_loads": "#a0aec0",
    "msgspec_loads": "#cbd5e0",
    "orjson_loads": "#cbd5e0",
}
#: Bars longer than this many times ours and raw aiohttp's are cut, their value written.
CLIP = 2.5


def subtitle(results: dict[str, Any]) -> str:
    """Which run a chart shows: a chart of a busy machine must say so."""
    m = results.get("machine", {})
    start = (m.get("load_average_at_start") or [float("nan")])[0]
    end = (m.get("load_average_at_end") or [float("nan")])[0]
    return (
        f"{results.get('started', '?')[:10]}, {m.get('cpus', '?')} CPUs, "
        f"Python {m.get('python', '?')}, load average {start:.1f} at start, {end:.1f} at end; "
        f"medians of {results.get('rounds', '?')} rounds"
    )


def _new_figure(panels: int, title: str, results: dict[str, Any]) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=(5.2 * panels, 3.6), layout="constrained")
    axes = figure.subplots(1, panels, squeeze=False)[0]
    figure.suptitle(f"{title}\n{subtitle(results)}", fontsize=9)
    return figure, list(axes)


def _bars(
    ax: Axes,
    groups: list[str],
    series: dict[str, list[float | None]],
    *,
    clip_to: float,
    digits: int = 0,
) -> None:
    """Grouped horizontal bars; a bar beyond `clip_to` is cut at it and labelled with its value."""
    names = list(series)
    height = 0.8 / len(names)
    for i, name in enumerate(names):
        for g, value in enumerate(series[name]):
            if value is None:
                continue
            y = g + (i - (len(names) - 1) / 2) * height
            shown = min(value, clip_to)
            ax.barh(y, shown, height=height * 0.9, color=COLOURS.get(name, "#4a5568"),
                    label=CLIENTS.get(name, name) if g == 0 else None)  # fmt: skip
            cut = " (cut)" if value > clip_to else ""
            ax.text(shown, y, f" {value:,.{digits}f}{cut}", va="center", fontsize=8)
    ax.set_yticks(range(len(groups)), groups)
    ax.invert_yaxis()
    longest = max(min(v, clip_to) for values in series.values() for v in values if v is not None)
    ax.set_xlim(0, longest * 1.3)
    ax.grid(axis="x", alpha=0.3)


def creates_chart(results: dict[str, Any]) -> Figure:
    """CPU per create and creates/s, per concurrency, for every client measured."""
    sections = results["creates"]["by_concurrency"]
    clients = [c for c in CLIENTS if any(c in s["clients"] for s in sections.values())]
    figure, (cpu_ax, rate_ax) = _new_figure(2, "Creating a customer over loopback HTTP", results)
    for ax, metric, label in (
        (cpu_ax, "cpu_us_per_create", "client CPU µs per create (lower is better)"),
        (rate_ax, "creates_per_s", "creates per second (higher is better)"),
    ):
        ratio = "cpu_vs_raw" if metric == "cpu_us_per_create" else "rate_vs_raw"
        groups = [
            f"c={key[1:]}\nours/raw {s['ratios'][ratio]['median']:.2f}x"
            if ratio in s["ratios"]
            else f"c={key[1:]}"
            for key, s in sections.items()
        ]
        series: dict[str, list[float | None]] = {
            c: [s["clients"][c][metric]["median"] if c in s["clients"] else None
                for s in sections.values()]
            for c in clients
        }  # fmt: skip
        ours_and_raw = [v for c in ("ecomcharge_async", "raw_aiohttp") for v in series.get(c, [])]
        _bars(ax, groups, series, clip_to=CLIP * max(v for v in ours_and_raw if v is not None))
        ax.set_xlabel(label)
    figure.legend(
        *cpu_ax.get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize=8
    )
    return figure


def decoding_chart(results: dict[str, Any]) -> Figure:
    """The list decode against pydantic and the parsers; one object each way if measured.

    Lower is better in every panel.
    """
    decoding = results["decoding"]
    codec = results.get("codec")
    figure, axes = _new_figure(2 if codec else 1, "Decoding and encoding", results)
    order = ("ecomcharge_async", "pydantic", "json_loads", "msgspec_loads", "orjson_loads")
    names = sorted(decoding["decoders"], key=lambda n: order.index(n) if n in order else 9)
    ms = [decoding["decoders"][n]["ms"]["median"] for n in names]
    ax = axes[0]
    ax.barh(range(len(names)), ms, color=[COLOURS.get(n, "#4a5568") for n in names])
    for y, value in enumerate(ms):
        ax.text(value, y, f" {value:.1f}", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), [CLIENTS.get(n, n).replace("_", ".") for n in names])
    ax.invert_yaxis()
    ax.set_xlim(0, max(ms) * 1.25)
    vs = decoding["ratios"].get("vs_pydantic")
    ratio = f"; ours/pydantic {vs['median']:.2f}x" if vs else ""
    ax.set_xlabel(f"ms to decode a list of {decoding['customers']:,} customers{ratio}")
    ax.grid(axis="x", alpha=0.3)
    if codec:
        us = codec["us_per_call"]
        groups = ["encode NewCustomer", "decode Customer"]
        series: dict[str, list[float | None]] = {
            "ecomcharge_async": [us["encode_new_customer"]["median"],
                                 us["decode_customer"]["median"]],
        }  # fmt: skip
        if "pydantic_model_dump_json" in us:
            series["pydantic"] = [
                us["pydantic_model_dump_json"]["median"],
                us["pydantic_model_validate_json"]["median"],
            ]
        top = max(v for values in series.values() for v in values if v is not None)
        _bars(axes[1], groups, series, clip_to=top, digits=2)
        axes[1].set_xlabel("µs per call (lower is better)")
        axes[1].legend(loc="upper right", fontsize=8, framealpha=0.9)
    return figure


#: layers.json's levels, innermost first, with what each one adds.
LAYERS = {
    "transport": "transport (in memory)",
    "attempt": "+ last link",
    "chain": "+ retry, logging",
    "send": "+ Request, status check",
    "create": "+ encode, decode",
}


def layers_chart(layers: dict[str, Any]) -> Figure:
    """Instructions per create: what each layer adds, the JSON work, the whole call.

    The last two panels compare with raw aiohttp (its caller's `json.dumps` and
    `json.loads` for the JSON work).
    """
    loopback = layers.get("loopback_c64")
    figure = Figure(figsize=(5.2 * (3 if loopback else 2), 3.6), layout="constrained")
    level_ax, json_ax, *whole = figure.subplots(1, 3 if loopback else 2)
    figure.suptitle(
        "Where a create's work goes: machine instructions per call, counted by valgrind\n"
        "(exact counts, not timings: the same on a busy machine)",
        fontsize=9,
    )
    counts = [layers["levels"][level]["instructions"] for level in LAYERS]
    added = [counts[0]] + [b - a for a, b in itertools.pairwise(counts)]
    labels = list(LAYERS.values())
    timer = layers.get("timer", {}).get("instructions_added")
    if timer is not None:
        labels.append("timer, a transport\nyou write")
        added.append(timer)
    colours = [COLOURS["ecomcharge_async"]] * len(LAYERS) + ["#a0aec0"] * (len(added) - len(LAYERS))
    level_ax.barh(range(len(added)), added, color=colours)
    for y, value in enumerate(added):
        level_ax.text(value, y, f" {value:,.0f}", va="center", fontsize=8)
    level_ax.set_yticks(range(len(added)), labels)
    level_ax.invert_yaxis()
    level_ax.set_xlim(0, max(added) * 1.3)
    level_ax.set_xlabel(f"instructions each layer adds (a create: {counts[-1]:,.0f})")
    level_ax.grid(axis="x", alpha=0.3)
    ops = layers["json"]
    pairs = {"ecomcharge_async": ("encode_new_customer", "decode_customer"),
             "raw_aiohttp": ("json.dumps+encode", "json.loads")}  # fmt: skip
    series: dict[str, list[float | None]] = {
        name: [ops[op]["instructions"] for op in names] for name, names in pairs.items()
    }
    top = max(v for values in series.values() for v in values if v is not None)
    _bars(json_ax, ["encode\none customer", "decode\none customer"], series, clip_to=top)
    json_ax.set_xlabel("instructions per call (raw aiohttp: json.dumps, json.loads)")
    json_ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    if loopback:
        thousands: dict[str, list[float | None]] = {
            name: [loopback[name]["instructions"] / 1000.0]
            for name in ("ecomcharge_async", "raw_aiohttp")
        }
        ratio = (
            loopback["ecomcharge_async"]["instructions"] / loopback["raw_aiohttp"]["instructions"]
        )
        _bars(whole[0], [f"c=64\nours/raw {ratio:.2f}x"], thousands, clip_to=10.0**9, digits=1)
        whole[0].set_xlabel("thousand instructions per create over loopback")
    return figure


def peer_chart(peer: dict[str, Any]) -> Figure:
    """CPU per row and rows/s of each import contender; the ratio to the script in the label."""
    title = f"Importing {peer['rows']:,} customers over loopback HTTP"
    figure, axes = _new_figure(2, title, peer)
    names = list(peer["contenders"])
    for ax, metric, label, ratio in (
        (axes[0], "cpu_us_per_row", "client CPU µs per row (lower is better)", "cpu"),
        (axes[1], "rows_per_s", "rows per second (higher is better)", "rate"),
    ):
        groups = [
            PEERS.get(n, n).format(c=peer.get("concurrency", "?"))
            + (f"\n{peer['ratios'][key]['median']:.2f}x the script"
               if (key := f"{n}_{ratio}_vs_script") in peer["ratios"] else "")
            for n in names
        ]  # fmt: skip
        values: list[float | None] = [peer["contenders"][n][metric]["median"] for n in names]
        _bars(ax, groups, {"ecomcharge_async": values}, clip_to=max(v or 0 for v in values))
        ax.set_xlabel(label)
    return figure


def save(figure: Figure, path: Path) -> None:
    """Write `figure` as SVG that does not change unless the figures do."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context({"svg.hashsalt": "ecomcharge-async", "svg.fonttype": "none"}):
        figure.savefig(path, format="svg", metadata={"Date": None})


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--layers", type=Path, default=DEFAULT_LAYERS)
    parser.add_argument("--peer", type=Path, default=DEFAULT_PEER)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    written = []
    if "creates" in results:
        written.append(args.out / "bench-creates.svg")
        save(creates_chart(results), written[-1])
    if "decoding" in results:
        written.append(args.out / "bench-decoding.svg")
        save(decoding_chart(results), written[-1])
    if args.layers.exists():
        written.append(args.out / "bench-layers.svg")
        save(layers_chart(json.loads(args.layers.read_text())), written[-1])
    peer = results.get("import_peer") or (
        json.loads(args.peer.read_text()) if args.peer.exists() else None
    )
    if peer is not None and "sdk" in peer["contenders"]:
        peer.setdefault("machine", results.get("machine", {}))
        written.append(args.out / "bench-import-peer.svg")
        save(peer_chart(peer), written[-1])
    for path in written:
        print(f"wrote {path}")
    return written


if __name__ == "__main__":
    main()
