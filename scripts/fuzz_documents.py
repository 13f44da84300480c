#!/usr/bin/env python3
"""Sweep mutated corpus packages through the jailed document worker, as the agent sends them.

    .venv/bin/python scripts/fuzz_documents.py --per-file 2 --seed 1 [--check] [--keep DIR]

For every DOCX/PPTX/XLSX of ../shared/corpus and every mutation kind (tests/fuzz_ooxml.py), makes
`--per-file` mutants, inspects each (and with --check, runs the structure checks too), and prints
one line per mutant that crashed, was refused though it must be read, or needed the LibreOffice
repair, then a count per outcome. Exit status 1 when any mutant crashed or was wrongly refused.
`--keep DIR` saves those mutants for reproduction; tests/test_fuzz_documents.py runs a small
seeded sample of the same on every test run.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fuzz_ooxml import KINDS, classify, mutate, ooxml_kind  # noqa: E402
from tools.documents import DocumentError, jailed  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--per-file", type=int, default=1, help="mutants per file and kind (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    parser.add_argument("--check", action="store_true", help="also run the structure checks on what inspects")
    parser.add_argument("--keep", type=Path, help="save the failing mutants here")
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    if not args.corpus.is_dir():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 2
    files = sorted(p for p in args.corpus.glob("*/*") if p.is_file() and ooxml_kind(p))
    counts: collections.Counter = collections.Counter()
    failed = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        for path in files:
            try:
                original = jailed.inspect(jailed.Source.from_path(path), recalculate=False)
            except DocumentError:
                original = None
            for kind in kinds:
                for n in range(args.per_file):
                    mutant = mutate(path, kind, random.Random(f"{args.seed}|{path.name}|{kind}|{n}"))
                    if mutant is None:
                        continue
                    target = Path(tmp) / f"{n}-{path.name}"
                    target.write_bytes(mutant.data)
                    source = jailed.Source.from_path(target)
                    try:
                        outcome = jailed.inspect(source, recalculate=False)
                    except Exception as exc:
                        outcome = exc
                    verdict = classify(mutant, outcome, original)
                    if verdict.ok and args.check and isinstance(outcome, dict):
                        try:
                            jailed.check(source, Path(tmp) / "check", render=False)
                        except DocumentError as exc:
                            if any(m in str(exc) for m in ("cannot be processed (", "cannot read its")):
                                verdict.ok, verdict.why = False, f"check crashed: {exc}"
                    outcome_class = "crash" if not verdict.ok else verdict.why.split(":")[0]
                    counts[outcome_class] += 1
                    if not verdict.ok or outcome_class.startswith("read from"):
                        print(
                            f"{'FAIL' if not verdict.ok else 'note'} {mutant.label}\n     {verdict.why[:400]}",
                            flush=True,
                        )
                    if not verdict.ok:
                        failed += 1
                        if args.keep:
                            args.keep.mkdir(parents=True, exist_ok=True)
                            (args.keep / f"{kind}-{n}-{path.name}").write_bytes(mutant.data)
    print(
        f"{sum(counts.values())} mutants of {len(files)} files in {time.monotonic() - started:.0f}s: "
        + ", ".join(f"{k} {v}" for k, v in counts.most_common())
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
