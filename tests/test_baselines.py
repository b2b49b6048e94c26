import math

import numpy as np
import pytest

from macedonizer.baselines import NgramBaseline, count_ngrams, save_ngrams, unigram_baseline, unigram_scores

# Ids: 0 [PAD], 1 [CLS], 2 [SEP], 3 a, 4 b, 5 c, 6 [MASK].
SPECIAL = [0, 1, 2, 6]
SEQUENCES = np.array([[1, 3, 4, 5, 2], [1, 3, 4, 3, 2]])
COUNTS = np.array([0, 0, 0, 3, 2, 1, 0])  # a ×3, b ×2, c ×1: unigram P = (n + 1) / 13


def baseline():
    counted = count_ngrams(SEQUENCES, 7, SPECIAL)
    return NgramBaseline(counted["keys"], counted["counts"], COUNTS)


def test_triples_are_counted_around_ordinary_centres():
    counted = count_ngrams(SEQUENCES, 7, SPECIAL)
    triples = {(int(k // 7 // 7), int(k % 7), int(k // 7 % 7)): int(n) for k, n in zip(counted["keys"], counted["counts"])}
    # (left, centre, right): [CLS] a b twice; the [SEP]s and [CLS]s are never centres.
    assert triples == {(1, 3, 4): 2, (3, 4, 5): 1, (4, 5, 2): 1, (3, 4, 3): 1, (4, 3, 2): 1}


def test_witten_bell_backoff_matches_a_hand_computation():
    ngram = baseline()
    # b between a and c. Pair (a, c): seen once, with b: N=1, T=1. Its backoff is the mean of
    # P(b | left a) = (2 + 1·3/13) / 3 = 29/39 and P(b | right c) = (1 + 3/13) / 2 = 8/13 = 24/39: 53/78.
    # So P(b | a, c) = (1 + 53/78) / 2 = 131/156.
    losses, correct = ngram.score(np.array([[1, 3, 6, 5, 2]]), np.array([[-100, -100, 4, -100, -100]]), 6, 0)
    assert losses[0] == pytest.approx(-math.log(131 / 156))
    assert correct.tolist() == [True]
    # Masked neighbours are unknown: a [MASK] on the left leaves P(b | right c) = 8/13; a [MASK] on the
    # right leaves P(a | left [CLS]) = (2 + 4/13) / 3 = 10/13.
    losses, _ = ngram.score(np.array([[1, 6, 6, 5, 2]]), np.array([[-100, 3, 4, -100, -100]]), 6, 0)
    assert losses.tolist() == pytest.approx([-math.log(10 / 13), -math.log(8 / 13)])
    # Nothing known on either side: the unigram, add-one smoothed.
    losses, _ = ngram.score(np.array([[6, 6, 6]]), np.array([[-100, 5, -100]]), 6, 0)
    assert losses[0] == pytest.approx(-math.log(2 / 13))


def test_distributions_sum_to_one_and_unseen_contexts_back_off():
    ngram = baseline()
    probs = ngram.distributions(np.array([3, -1, 5, 4]), np.array([5, 4, 1, -1]))
    assert probs.sum(axis=1) == pytest.approx(np.ones(4))
    assert probs[2] == pytest.approx(ngram.unigram)  # c never seen on the left, [CLS] never on the right
    assert (probs > 0).all()


def test_saved_counts_load_and_check_the_vocabulary(tmp_path):
    counted = count_ngrams(SEQUENCES, 7, SPECIAL)
    save_ngrams(tmp_path / "n.npz", counted, 7)
    loaded = NgramBaseline.load(tmp_path / "n.npz", COUNTS)
    assert loaded.distributions(np.array([3]), np.array([5])) == pytest.approx(
        baseline().distributions(np.array([3]), np.array([5])))
    with pytest.raises(ValueError, match="another vocabulary"):
        NgramBaseline.load(tmp_path / "n.npz", np.zeros(9))


def test_unigram_baseline_against_a_direct_computation():
    loss, accuracy = unigram_baseline(COUNTS, np.array([3, 3, 5, 0]))
    assert loss == pytest.approx(-(2 * math.log(4 / 13) + math.log(2 / 13) + math.log(1 / 13)) / 4)
    assert accuracy == 0.5


def test_unigram_scores_per_target_are_add_one_smoothed_frequencies():
    losses, hits = unigram_scores(COUNTS, np.array([3, 5, 0, 4]))
    # (n + 1) / (6 tokens + 7 vocabulary entries): a never-seen token keeps 1/13, not 0.
    assert losses.tolist() == pytest.approx([-math.log(4 / 13), -math.log(2 / 13), -math.log(1 / 13),
                                             -math.log(3 / 13)])
    assert hits.tolist() == [True, False, False, False]  # only the commonest token, a, is predicted
