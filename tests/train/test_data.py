import json

import numpy as np

from macedonizer.train.data import Order, build_cache
from tests.train.conftest import SAMPLE


def test_packed_cache_keeps_documents_and_is_reused(tok):
    data = build_cache([SAMPLE], tok, 32, progress=False)
    assert data.train.dtype == np.uint16 and data.train.shape[1] == 32
    assert data.meta["documents"] == {"train": 787, "val": 16}
    vocab = json.loads((tok / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
    assert (data.train[:, 0] == cls_id).all()
    n_sep = int((np.asarray(data.train) == sep_id).sum() + (np.asarray(data.val) == sep_id).sum())
    assert n_sep == 803  # one boundary per document
    assert data.token_counts[cls_id] == 0 and data.token_counts.sum() == data.meta["train_tokens"]
    again = build_cache([SAMPLE], tok, 32, progress=False)
    assert again.folder == data.folder
    assert build_cache([SAMPLE], tok, 64, progress=False).folder != data.folder


def test_the_data_order_is_a_seeded_permutation_per_epoch():
    order = Order(10, seed=3)
    first, second = order.indices(0, 10), order.indices(10, 10)
    assert sorted(first) == sorted(second) == list(range(10)) and list(first) != list(second)
    assert list(Order(10, seed=3).indices(7, 6)) == [*first[7:], *second[:3]]  # any start, same order
    assert list(Order(10, seed=4).indices(0, 10)) != list(first)
