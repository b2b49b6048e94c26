import numpy as np
import xxhash

from macedonizer.corpus import dedup
from macedonizer.corpus.dedup import NearDuplicateIndex, band_keys, exact_key, lsh_bands, signatures, words_of

LONG = ("Македонската кујна е позната по тавче гравче, ајвар, пастрмајлија и зелник, а секој регион има свои "
        "посебни јадења што се подготвуваат за празниците. Во Охрид се јаде охридска пастрмка, во Струмица "
        "се пржат пиперки со сирење, а во Велес се прави чомлек во земјен сад.")


def test_exact_key_ignores_case_punctuation_and_spacing():
    assert exact_key(words_of("Тоа е Добро!")) == exact_key(words_of("  тоа   е добро"))
    assert exact_key(words_of("Тоа е добро.")) != exact_key(words_of("Тоа не е добро."))


def test_signatures_estimate_jaccard_similarity():
    first, second = words_of(LONG), words_of(LONG + " Ајварот е најдобар наесен.")
    a, b, c, d = signatures(
        [first, second, words_of("Сосема друг текст за нешто друго."), first[::-1]], num_perm=256, ngram=5,
    )
    # The share of equal MinHash values estimates the Jaccard similarity of the 5-word shingles
    # (256 permutations: a standard error of about 0.02).
    shingles = [{tuple(w[i:i + 5]) for i in range(len(w) - 4)} for w in (first, second)]
    jaccard = len(shingles[0] & shingles[1]) / len(shingles[0] | shingles[1])
    assert jaccard < 1 and abs(np.mean(a == b) - jaccard) < 0.08
    assert np.mean(a == c) < 0.1
    # The same words in reverse order share no 5-word shingle: near duplicates are about runs of words.
    assert np.mean(a == d) < 0.1


def test_signatures_do_not_depend_on_the_batch():
    texts = [words_of(LONG), words_of("кратко"), [], words_of("Друга реченица со повеќе од пет зборови во неа.")]
    together = signatures(texts, 64, 5)
    alone = [signatures([t], 64, 5)[0] for t in texts]
    for x, y in zip(together, alone):
        assert np.array_equal(x, y)


def reference_signature(words: list[str], num_perm: int, ngram: int) -> list[int]:
    """MinHash by its definition, one shingle and one hash function at a time, in Python integers."""
    mask = 2**64 - 1
    hashes = [xxhash.xxh64_intdigest(w.encode("utf-8")) for w in words or [""]]
    n = min(ngram, len(hashes))
    shingles = []
    for i in range(len(hashes) - n + 1):
        value = hashes[i]
        for h in hashes[i + 1 : i + n]:
            value = (value * int(dedup._MIX) + h) & mask
        shingles.append(value)
    a, b = dedup._permutations(num_perm)
    return [min(((int(ak) * x + int(bk)) & mask) >> 32 for x in shingles) for ak, bk in zip(a, b)]


def test_signatures_are_minhash_by_its_definition(monkeypatch):
    texts = [words_of(LONG), words_of("кратко"), [], words_of("Три збора тука.")]
    expected = [reference_signature(t, 16, 5) for t in texts]
    # One block of permutations at a time, and several: the blocks only change the speed.
    for block_bytes in (dedup._BLOCK_BYTES, 8):
        monkeypatch.setattr(dedup, "_BLOCK_BYTES", block_bytes)
        assert [s.tolist() for s in signatures(texts, 16, 5)] == expected


def test_near_duplicate_index_keeps_the_first_and_drops_the_copy():
    a, b, c = signatures(
        [words_of(LONG), words_of(LONG.replace("земјен сад.", "глинен сад.")), words_of("Нешто сосема друго, без врска.")],
        128, 5,
    )
    keys = band_keys([a, b, c], 0.8, 128)
    bands, rows = lsh_bands(0.8, 128)
    assert len(keys) == 3 and all(len(k) == bands for k in keys) and bands * rows <= 128
    index = NearDuplicateIndex(threshold=0.8, num_perm=128)
    assert index.seen_or_add(keys[0]) is False
    assert index.seen_or_add(keys[1]) is True
    assert index.seen_or_add(keys[2]) is False
