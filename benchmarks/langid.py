"""Language ID on short interface strings and on sentences: kept %, before and after, and its speed.

Every line goes through what `macedonizer clean --filters lang` does to it
before the dedup step (normalisation, then `langid.score` >= 0.5); a line
that normalisation drops counts as dropped. Text, from the shared corpora
(``--data DIR``; default $MACEDONIZER_CORPORA, else ../shared/corpora):

- ui/LANG.firefox.txt, Firefox interface strings in mk, sr, bg, ru, uk: only
  the held-out half (lines whose CRC-32 is odd; ``--half tune`` for the even
  half, on which the weights were chosen);
- neighbours/LANG.flores-dev.txt, FLORES sentences in bg, sr, ru, uk, be;
- mk/*.txt, Macedonian sentences (wiki.txt aside, which is only timed).

"before" is the scorer at ``--before REV`` (default: the last commit with the
single-module scorer), loaded from git; "after" is the installed one.
``--ideas`` adds one column per idea (on the same half), ``--throughput``
times both scorers over wiki.txt. ``--frontier`` compares the variants where
the threshold is what they trade: for each, the share of each neighbour's
strings kept at the threshold that keeps exactly 97% of the Macedonian ones.

    python benchmarks/langid.py                      # held-out half, before and after
    python benchmarks/langid.py --half tune --ideas  # what each idea adds, on the tuning half
    python benchmarks/langid.py --throughput         # MB/s of the language ID over wiki.txt
    python benchmarks/langid.py --ideas --frontier   # each neighbour kept where 97% of Macedonian is
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import subprocess
import sys
import time
import tracemalloc
import types
import zlib
from pathlib import Path

from corpora import CORPORA  # benchmarks/corpora.py (scripts run from benchmarks/)

import macedonizer.corpus.langid as after
from macedonizer.corpus.langid import frequency, lexicon
from macedonizer.corpus.normalize import Repairs, normalize

UI_LANGUAGES = ("mk", "sr", "bg", "ru", "uk")
FLORES_NEIGHBOURS = ("bg", "sr", "ru", "uk", "be")
MK_SENTENCES = ("flores-dev", "ntrex", "orwell1984-dev", "setimes", "tatoeba", "ud-mtb")
BEFORE_REV = "ca7d9fd"
REPO = Path(__file__).resolve().parents[1]


def in_half(line: str, half: str) -> bool:
    """The deterministic split: odd CRC-32 of the line is held out, even is for tuning."""
    return zlib.crc32(line.encode("utf-8")) % 2 == (1 if half == "held-out" else 0)


def read_lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def test_sets(data: Path, half: str) -> dict[str, list[str]]:
    """name -> normalised lines ("" where normalisation dropped the line)."""
    raw = {f"ui/{lang}": [x for x in read_lines(data / "ui" / f"{lang}.firefox.txt") if in_half(x, half)]
           for lang in UI_LANGUAGES}
    raw |= {f"flores/{lang}": read_lines(data / "neighbours" / f"{lang}.flores-dev.txt") for lang in FLORES_NEIGHBOURS}
    raw |= {f"mk/{name}": read_lines(data / "mk" / f"{name}.txt") for name in MK_SENTENCES}
    return {name: [normalize(line, Repairs()) for line in lines] for name, lines in raw.items()}


def load_before(rev: str) -> types.ModuleType | None:
    """The scorer as it was at ``rev`` (a single module then), or None if git cannot show it."""
    try:
        source = subprocess.run(["git", "show", f"{rev}:macedonizer/corpus/langid.py"], cwd=REPO, check=True,
                                capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("langid_before")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:langid.py", "exec"), module.__dict__)
    return module


FRONTIER_MK_SHARE = 97.0


def evidence_of(score, lines: list[str]) -> list[float]:
    return [score(line).evidence if line else -math.inf for line in lines]


def frontier(score, sets: dict[str, list[str]], share: float = FRONTIER_MK_SHARE) -> dict[str, float]:
    """Each ui/ neighbour's kept % at the threshold that keeps ``share`` % of the Macedonian strings."""
    evidence = {name: evidence_of(score, lines) for name, lines in sets.items() if name.startswith("ui/")}
    mk = sorted(evidence["ui/mk"], reverse=True)
    threshold = mk[max(0, math.ceil(share / 100 * len(mk)) - 1)]
    return {name: 100.0 * sum(e >= threshold for e in values) / len(values) for name, values in evidence.items()}


def kept_percent(score, lines: list[str]) -> float:
    return 100.0 * sum(1 for line in lines if line and score(line).mk_score >= 0.5) / len(lines)


@contextlib.contextmanager
def patched(module, **values):
    """Temporarily set module attributes (an idea is a variant of the constants)."""
    old = {name: getattr(module, name) for name in values}
    for name, value in values.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            setattr(module, name, value)


def ideas(before: types.ModuleType | None) -> dict[str, contextlib.AbstractContextManager]:
    """The variants measured beside "after", each a change to its parts or constants."""
    variants = {
        "no lexicon": patched(after, lexicon_evidence=lambda words: 0.0),
        "no word frequencies": patched(after, frequency_evidence=lambda words: 0.0),
        # The classic naive-Bayes vote: the log ratio of the two frequencies of a word both lists hold counts too.
        "frequencies, naive Bayes": patched(frequency, SHARED_WEIGHT=1.0),
        "frequencies x2": patched(frequency, FREQUENCY_WEIGHT=2.0 * frequency.FREQUENCY_WEIGHT),
        # The frequency vote alone, after the prior: no letters, function words, endings, word lists or lingua.
        "frequencies alone": patched(after, rule_evidence=lambda text, words=None: 0.0,
                                     lexicon_evidence=lambda words: 0.0, STATISTICAL_WEIGHT=0.0,
                                     _STATISTICAL_BOUND=0.0),
        "no lingua (frequencies instead)": patched(after, STATISTICAL_WEIGHT=0.0, _STATISTICAL_BOUND=0.0),
        "lingua x2": patched(after, STATISTICAL_WEIGHT=2.0, _STATISTICAL_BOUND=2.0 * after.STATISTICAL_CLIP),
        "prior 1.5": patched(after, PRIOR=1.5),
        "prior 0.5": patched(after, PRIOR=0.5),
        "prior 0": patched(after, PRIOR=0.0),
        "acronyms count as Latin": patched(after.rules, _LATIN_ACRONYM_RE=re.compile(r"(?!)")),
    }
    if before:
        # The lexicon on top of the old letters, words and endings.
        old_rules = lambda text, words=None: before.rule_evidence(text)  # noqa: E731
        variants["old rules + lexicon"] = patched(after, rule_evidence=old_rules, script_of=before.script_of)
    return variants


def load_cost(load) -> tuple[float, float, int]:
    """Seconds and MB (Python's allocations, traced on a second load) to load a cached table, and its words."""
    load.cache_clear()
    start = time.perf_counter()
    table = load()
    seconds = time.perf_counter() - start
    load.cache_clear()
    tracemalloc.start()
    table = load()
    held = tracemalloc.get_traced_memory()[0] / 1e6
    tracemalloc.stop()
    words = len(table) if isinstance(table, dict) else sum(map(len, table))
    return seconds, held, words


def throughput(before: types.ModuleType | None, wiki: Path) -> None:
    """MB/s (per CPU second) of each scorer over wiki.txt (normalised first, untimed), and how much each keeps."""
    lines = [normalize(line, Repairs()) for line in read_lines(wiki)]
    megabytes = sum(len(line.encode("utf-8")) for line in lines) / 1e6
    for name, load in (("lexicon", lexicon.lexicon), ("word frequencies", frequency.zipf_tables)):
        seconds, megabytes_held, words = load_cost(load)
        print(f"{name} loaded in {seconds:.2f} s, {megabytes_held:.0f} MB ({words:,} words), once per process")
    scorers = {"after": after} | ({"before": before} if before else {})
    for name, module in scorers.items():
        module.statistical_evidence("Добар ден.")  # lingua loads its models on first use, untimed
        score = module.score
        # CPU time of this process: on a shared machine, wall time mostly measures the neighbours.
        start = time.process_time()
        for line in lines:
            score(line)
        seconds = time.process_time() - start
        print(f"{name:6s} {megabytes:.1f} MB of wiki.txt in {seconds:.2f} CPU s: {megabytes / seconds:.2f} MB/s, "
              f"kept {kept_percent(score, lines):.2f}% of its {len(lines):,} paragraphs")


def print_frontier(before, sets, variants, half: str) -> None:
    """The neighbours' kept % where each variant keeps exactly FRONTIER_MK_SHARE % of the Macedonian strings."""
    rows = ({f"before ({BEFORE_REV})": frontier(before.score, sets)} if before else {}) | {"after": frontier(after.score, sets)}
    for name, idea in variants.items():
        with idea:
            rows[f"after, {name}"] = frontier(after.score, sets)
    names = [name for name in sets if name.startswith("ui/") and name != "ui/mk"]
    print(f"\nkept % of each neighbour where {FRONTIER_MK_SHARE:g}% of the Macedonian strings are kept ({half} half)\n")
    print("| variant | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for variant, kept in rows.items():
        print(f"| {variant} | " + " | ".join(f"{kept[name]:.1f}" for name in names) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=CORPORA, help="the shared corpora folder (ui/, neighbours/, mk/)")
    parser.add_argument("--half", choices=("held-out", "tune"), default="held-out")
    parser.add_argument("--before", default=BEFORE_REV, help="git revision of the scorer to compare with")
    parser.add_argument("--ideas", action="store_true", help="add a column per idea")
    parser.add_argument("--throughput", action="store_true", help="time both scorers over mk/wiki.txt")
    parser.add_argument("--frontier", action="store_true",
                        help=f"each neighbour kept at the threshold that keeps {FRONTIER_MK_SHARE:g}%% of Macedonian")
    args = parser.parse_args()
    if not (args.data / "ui").is_dir():
        sys.exit(f"Error: no ui/ folder in {args.data} (pass --data, the shared corpora folder)")
    before = load_before(args.before)
    sets = test_sets(args.data, args.half)
    columns = ({f"before ({args.before})": before.score} if before else {}) | {"after": after.score}
    results = {name: [kept_percent(score, lines) for lines in sets.values()] for name, score in columns.items()}
    for name, idea in (ideas(before).items() if args.ideas else ()):
        with idea:
            results[f"after, {name}"] = [kept_percent(after.score, lines) for lines in sets.values()]
    print(f"kept % ({args.half} half of ui/; all of the sentence files)\n")
    print("| text | lines | " + " | ".join(results) + " |")
    print("|---|---:|" + "---:|" * len(results))
    for i, (name, lines) in enumerate(sets.items()):
        print(f"| {name} | {len(lines):,} | " + " | ".join(f"{column[i]:.1f}" for column in results.values()) + " |")
    if args.frontier:
        print_frontier(before, sets, ideas(before) if args.ideas else {}, args.half)
    if args.throughput:
        print()
        throughput(before, args.data / "mk" / "wiki.txt")


if __name__ == "__main__":
    main()
