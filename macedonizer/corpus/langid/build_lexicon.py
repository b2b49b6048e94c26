"""Rebuild ``lexicon.txt.gz``, the word lists behind the lexicon evidence of the language ID.

The words come from Tesseract OCR's trained language data (the word lists it
uses to check what it reads), one list per language, collected from the web
by the Tesseract project and published under the Apache License 2.0 — the
same licence as macedonizer, so the derived file ships inside the package.
Debian packages them as ``tesseract-ocr-{mkd,srp,bul,rus,ukr}``; the tools
that unpack them come with ``tesseract-ocr``::

    apt-get install tesseract-ocr tesseract-ocr-mkd tesseract-ocr-srp tesseract-ocr-bul \\
        tesseract-ocr-rus tesseract-ocr-ukr
    python -m macedonizer.corpus.langid.build_lexicon

Keep ``lexicon.NOTICE`` (the attribution the licence asks for) in step with
what this script does. Each line of the output is a word and, as one
hexadecimal digit, the set of languages whose list holds it (bit i for
``LANGUAGES[i]``). Left out, because
they would carry no evidence: words every list or no list holds, words with a
letter that decides the language on its own (ѓ ќ ѕ ђ ћ й ь ъ щ я ю ы э ё є і ї ґ ў
and ѐ ѝ: the letter rules already count them), and words with anything but
Cyrillic letters.
"""

from __future__ import annotations

import argparse
import gzip
import re
import subprocess
import tempfile
import unicodedata
from pathlib import Path

from .lexicon import LANGUAGES, LEXICON_PATH
from .rules import LETTER_DECIDES

TESSDATA = Path("/usr/share/tesseract-ocr/5/tessdata")
# Tesseract's three-letter codes for LANGUAGES, in the same order.
TESSERACT_CODES = ("mkd", "srp", "bul", "rus", "ukr")
_CYRILLIC_WORD = re.compile(r"[\u0430-\u045f]+")


def tesseract_words(code: str, tessdata: Path, scratch: Path) -> set[str]:
    """The lower-case words of the word list inside ``code.traineddata``, NFC."""
    prefix = scratch / code
    subprocess.run(["combine_tessdata", "-u", str(tessdata / f"{code}.traineddata"), f"{prefix}."],
                   check=True, capture_output=True)
    out = scratch / f"{code}.words"
    subprocess.run(["dawg2wordlist", f"{prefix}.lstm-unicharset", f"{prefix}.lstm-word-dawg", str(out)],
                   check=True, capture_output=True)
    words = set()
    for line in out.read_text(encoding="utf-8").split("\n"):
        # Only words the list holds in lower case: a word it holds only capitalised is
        # a name (Невис, Норфолк), which says nothing about the language around it.
        word = unicodedata.normalize("NFC", line.strip())
        if _CYRILLIC_WORD.fullmatch(word) and not LETTER_DECIDES.intersection(word):
            words.add(word)
    return words


def build(tessdata: Path, out: Path) -> int:
    """Write the lexicon file; return how many words it holds."""
    with tempfile.TemporaryDirectory() as tmp:
        lists = [tesseract_words(code, tessdata, Path(tmp)) for code in TESSERACT_CODES]
    everyone = (1 << len(lists)) - 1
    masks: dict[str, int] = {}
    for bit, words in enumerate(lists):
        for word in words:
            masks[word] = masks.get(word, 0) | (1 << bit)
    lines = sorted(f"{word}\t{mask:x}" for word, mask in masks.items() if mask != everyone)
    header = "# " + " ".join(LANGUAGES) + ": words of Tesseract OCR's word lists (Apache-2.0), see build_lexicon.py\n"
    # No name, mtime=0: the same lists give the same bytes.
    with open(out, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
        f.write((header + "\n".join(lines) + "\n").encode("utf-8"))
    return len(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tessdata", type=Path, default=TESSDATA, help="folder of the *.traineddata files")
    parser.add_argument("-o", "--out", type=Path, default=LEXICON_PATH)
    args = parser.parse_args()
    print(f"{build(args.tessdata, args.out):,} words written to {args.out}")


if __name__ == "__main__":
    main()
