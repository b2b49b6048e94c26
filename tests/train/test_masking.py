import torch

from macedonizer.configs import MaskingConfig
from macedonizer.train.masking import Masker


def test_masking_rates_specials_and_whole_words():
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "а", "б", "##в", "##г"])}
    ids = torch.tensor([[2] + [5, 7, 8, 6] * 500 + [3, 0]])
    masker = Masker(MaskingConfig(rate=0.15), vocab)
    inputs, labels = masker(ids, torch.Generator().manual_seed(0))
    chosen = labels != -100
    assert 0.12 < chosen.float().mean() < 0.18
    assert not chosen[0, 0] and not chosen[0, -1] and not chosen[0, -2]  # [CLS], [PAD], [SEP]
    assert 0.7 < (inputs[chosen] == 4).float().mean() < 0.9
    whole = Masker(MaskingConfig(rate=0.15, whole_word=True), vocab)
    _, labels = whole(ids, torch.Generator().manual_seed(0))
    words = (labels[0, 1:-2] != -100).reshape(-1, 4)  # "а ##в ##г" and "б" alternate: word = 3 pieces
    assert (words[:, 0] == words[:, 1]).all() and (words[:, 1] == words[:, 2]).all()


def test_masks_do_not_depend_on_the_process_count():
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"т{i}" for i in range(50)])}
    ids = torch.randint(5, 55, (8, 16))
    masker = Masker(MaskingConfig(), vocab)
    whole = masker(ids, torch.Generator().manual_seed(3))
    halves = [masker(ids[r * 4 : (r + 1) * 4], torch.Generator().manual_seed(3), total_rows=8, row_offset=r * 4)
              for r in range(2)]
    for i in range(2):
        assert torch.equal(whole[i], torch.cat([h[i] for h in halves]))
