"""Run every benchmark of seminfo in sequence, each beside its anchor, with the settings recorded in
docs/benchmarks.md (``make bench``; about 25 minutes on 2 CPU cores, most of it in compression).

    .venv/bin/python benchmarks/run_all.py               # all of them
    .venv/bin/python benchmarks/run_all.py foundation rd # some of them

Each benchmark is its own script (see its docstring); this runner only calls them with the
documented arguments, one after another in separate processes (so that one's memory or threads do
not disturb the next), and stops at the first that fails. It needs the anchors of
benchmarks/requirements.txt (dit, infomeasure, lm-eval, zstandard, brotli).
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent

#: name -> script and arguments, as recorded in docs/benchmarks.md
BENCHMARKS = {
    "foundation": ["bench_foundation.py", "--n", "1000000", "--repeat", "3"],
    "rd": ["bench_rd.py", "--sizes", "64", "256", "--betas", "2", "5", "--repeat", "3"],
    "score": ["bench_score.py", "--smollm2-bytes", "8000"],
    "compress": ["bench_compress.py", "--slice-bytes", "8000", "--portable", "11000", "--heldout", "8000"],
    "portable": ["bench_portable.py", "--models", "builtin:gpt", "builtin:ngram", "--bytes", "20000"],
    "elbo": ["bench_elbo.py", "--bytes", "1500", "--samples", "16", "32", "64", "128", "--repeats", "8"],
    "architectures": ["bench_architectures.py", "--bytes", "20000", "--samples", "32"],
    "embed": ["bench_embed.py", "--dims", "64", "192", "--repeat", "1"],
    "energy": ["bench_energy.py", "--models", "builtin:gpt", "builtin:smollm2", "--tokens", "200"],
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"run_all.py: unknown benchmark(s) {', '.join(unknown)}; choose from "
              f"{', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    for name in names:
        script, *args = BENCHMARKS[name]
        print(f"\n=== {name}: {script} {' '.join(args)}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / script), *args], env=env)
        print(f"=== {name}: exit {rc}, {time.perf_counter() - t0:.0f} s", flush=True)
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
