"""What the journal adds per row, counted rather than timed: instructions and system calls.

On the shared 2-core VM the client CPU of an import moves by 10-30 % between runs
with the other engineers' load, more than the journal costs. Counts do not:
this runs `ecomcharge import --concurrency 64` on the plain loopback fake
(benchmarks/limited_api.py) with and without `--journal`, at two row counts, so
that start-up cancels out of the difference, and prints per row

- the user-space instructions of the whole process (valgrind's callgrind; it
  runs about 50 times slower, so the rows are few), and
- the system calls by name (`strace -c -f`), the journal's write(2) and fsync(2)
  among them.

Either tool is skipped if it is not installed. Each run checks that the server
created every row exactly once.

    python benchmarks/journal_cost.py [--rows 2000 6000]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from import_peer import ENV, check_exactly_once, cli_command, write_csv
from limited_api import limited_api


def _run(tool: list[str], csv: Path, rows: int, journal: Path | None) -> None:
    with limited_api("plain") as url:
        command = tool + cli_command(csv, url, "64", journal, ["--quiet"])
        done = subprocess.run(command, env=ENV, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool[0]} exited {done.returncode}: {done.stderr[-2000:]}")
        check_exactly_once(url, rows)


def instructions(csv: Path, rows: int, journal: Path | None, out: Path) -> int:
    _run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"], csv, rows, journal)
    found = re.search(r"^summary: (\d+)$", out.read_text(errors="replace"), re.MULTILINE)
    assert found is not None, "callgrind wrote no summary"
    return int(found.group(1))


def syscalls(csv: Path, rows: int, journal: Path | None, out: Path) -> dict[str, int]:
    _run(["strace", "-f", "-c", "-o", str(out)], csv, rows, journal)
    counts = {}
    for line in out.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
            counts[fields[-1]] = int(fields[3])
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs=2, default=[2000, 6000])
    few, many = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as tmp:
        files = {rows: Path(tmp, f"{rows}.csv") for rows in (few, many)}
        for rows, path in files.items():
            write_csv(path, rows)
        for label, keeps in (("no journal", False), ("--journal", True)):

            def journal(rows: int, tool: str, keeps: bool = keeps) -> Path | None:
                return Path(tmp, f"{tool}-{rows}.journal") if keeps else None

            if shutil.which("valgrind"):
                counts = {
                    rows: instructions(path, rows, journal(rows, "vg"), Path(tmp, "cg.out"))
                    for rows, path in files.items()
                }
                slope = (counts[many] - counts[few]) / (many - few)
                print(f"{label}: {slope / 1000:,.1f}k instructions per row "
                      f"({counts[many] / 1e6:,.0f}M at {many:,} rows)")  # fmt: skip
            if shutil.which("strace"):
                calls = syscalls(files[many], many, journal(many, "st"), Path(tmp, "st.out"))
                top = sorted(calls.items(), key=lambda item: -item[1])[:8]
                shown = ", ".join(f"{name} {count / many:.2f}" for name, count in top)
                print(f"{label}: system calls per row at {many:,} rows: {shown}")
                print(f"  write {calls.get('write', 0):,}, fsync {calls.get('fsync', 0):,} in all")


if __name__ == "__main__":
    main()
