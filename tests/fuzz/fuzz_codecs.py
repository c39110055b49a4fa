"""The codec fuzzing campaign, longer than CI's (tests/test_fuzz.py runs 4,000
inputs of it): every codec, every protocol, the fuzz IDL (limits.thrift) and
the test IDLs. See codec_fuzz.py for what is generated and what counts.

    python tests/fuzz/fuzz_codecs.py [--inputs 300000] [--seed 1] [--hang-seconds 1]
                                     [--save DIR]

Prints inputs run, crashes, disagreements, hangs and fallback uses (the
compiled codec calling the pure one: must be zero), and exits 1 if any of
them is not zero. With --save, each failing input is written to DIR (its
class, protocol and what went wrong in the file name and its .txt twin).
About 10,000 inputs a second here: the default takes under a minute.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for `tests`

from tests.fuzz import codec_fuzz


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=300_000, help="mutated inputs to run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--hang-seconds", type=float, default=1.0, help="an input slower than this is a hang"
    )
    parser.add_argument("--save", type=Path, help="write failing inputs to this folder")
    args = parser.parse_args()

    start = time.monotonic()
    modules = codec_fuzz.generate(Path(tempfile.mkdtemp(prefix="pilota-fuzz-")))
    codecs = ", ".join(m.__name__.rsplit(".", 1)[-1] for m in codec_fuzz.codecs())
    print(f"codecs: {codecs}; protocols: {', '.join(codec_fuzz.PROTOCOLS)}; seed {args.seed}")

    def progress(report: codec_fuzz.Report) -> None:
        rate = report.inputs / max(time.monotonic() - start, 1e-9)
        print(f"  {report.summary()} ({rate:,.0f} inputs/s)", flush=True)

    report = codec_fuzz.run(
        modules, args.inputs, args.seed, hang_seconds=args.hang_seconds, progress=progress
    )
    print(report.summary())
    print(f"{time.monotonic() - start:.0f} s")
    failures = (
        [("crash", c[0], c[1], c[2], c[3]) for c in report.crashes]
        + [("disagreement", d[0], d[1], d[2], repr(d[3])) for d in report.disagreements]
        + [("hang", h[0], h[1], h[2], f"{h[3]:.2f} s") for h in report.hangs]
    )
    for kind, cls, protocol, data, what in failures[:20]:
        print(f"{kind}: {cls} {protocol} {data[:200].hex()}: {what[:300]}")
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
        for n, (kind, cls, protocol, data, what) in enumerate(failures):
            path = args.save / f"{n:04d}-{kind}-{cls}-{protocol.replace(' ', '-')}"
            path.with_suffix(".bin").write_bytes(data)
            path.with_suffix(".txt").write_text(what + "\n")
    return 1 if failures or report.fallback_uses else 0


if __name__ == "__main__":
    raise SystemExit(main())
