"""The fuzz pass over the corpus: mutated real-world packages (an optional element left out, an
element dropped, children or attributes reordered; see tests/fuzz_ooxml.py) go through the
jailed document worker as the agent sends them. Each must be read, or refused with a clear
one-line DocumentError: never a reader's own exception. A bounded, seeded sample per run
(FUZZ_SEED, FUZZ_COUNT to change it); scripts/fuzz_documents.py sweeps many more."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.documents_builders import needs_soffice
from tests.fuzz_ooxml import KINDS, Mutant, classify, mutate, ooxml_kind
from tools.documents import DocumentError, jailed

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
SEED = int(os.environ.get("FUZZ_SEED", "20261202"))
COUNT = int(os.environ.get("FUZZ_COUNT", "8"))  # each costs a few worker runs: ~5 s


def sample(seed: int, count: int) -> list[Mutant]:
    files = sorted(p for p in CORPUS.glob("*/*") if p.is_file() and ooxml_kind(p)) if CORPUS.is_dir() else []
    rng = random.Random(seed)
    mutants: list[Mutant] = []
    attempts = 0
    while files and len(mutants) < count and attempts < count * 10:
        attempts += 1
        kind = KINDS[len(mutants) % len(KINDS)]  # every kind, in turn
        made = mutate(rng.choice(files), kind, random.Random(rng.random()))
        if made is not None:
            mutants.append(made)
    return mutants


MUTANTS = sample(SEED, COUNT)
_ORIGINALS: dict[Path, dict | None] = {}


def original_inspection(path: Path) -> dict | None:
    if path not in _ORIGINALS:
        try:
            _ORIGINALS[path] = jailed.inspect(jailed.Source.from_path(path), recalculate=False)
        except DocumentError:
            _ORIGINALS[path] = None
    return _ORIGINALS[path]


@pytest.fixture(scope="module", autouse=True)
def own_cache(tmp_path_factory):
    old = os.environ.get("AGENT_CACHE_DIR")
    os.environ["AGENT_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        del os.environ["AGENT_CACHE_DIR"]
    else:
        os.environ["AGENT_CACHE_DIR"] = old


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus folder {CORPUS} is absent")
@needs_soffice
@pytest.mark.parametrize("mutant", MUTANTS, ids=[f"{m.kind}-{m.source.stem}" for m in MUTANTS])
def test_a_mutated_package_is_read_or_refused_clearly(mutant, tmp_path):
    path = tmp_path / mutant.source.name
    path.write_bytes(mutant.data)
    source = jailed.Source.from_path(path)
    try:
        outcome: dict | Exception = jailed.inspect(source, recalculate=False)
    except Exception as exc:  # judged below: only a clear DocumentError is acceptable
        outcome = exc
    verdict = classify(mutant, outcome, original_inspection(mutant.source))
    assert verdict.ok, f"seed {SEED}: {mutant.label}: {verdict.why}"
    if isinstance(outcome, dict) and mutant.kind.startswith("drop"):  # what inspects must also check without tripping
        try:
            report = jailed.check(source, tmp_path / "check", render=False).report
        except DocumentError as exc:
            assert "\n" not in str(exc) and not any(
                m in str(exc) for m in ("cannot be processed (", "cannot read its")
            ), f"seed {SEED}: {mutant.label}: check crashed: {exc}"
        else:
            assert report.format_text().startswith(path.name)


def test_the_sample_is_reproducible_from_its_seed():
    if not CORPUS.is_dir():
        pytest.skip(f"corpus folder {CORPUS} is absent")
    again = sample(SEED, COUNT)
    assert [(m.label, m.data) for m in again] == [(m.label, m.data) for m in MUTANTS]
    assert {m.kind for m in MUTANTS} == set(KINDS)
