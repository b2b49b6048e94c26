"""``macedonizer export onnx``: a model's encoder for ONNX Runtime, and the runner the service uses.

Only the encoder is exported (token ids and attention mask in, hidden states
out) to ``MODEL/onnx/encoder.onnx``. The service keeps the prediction head in
PyTorch, applied to the masked positions alone as with the PyTorch backend,
so the two backends differ only in the encoder's arithmetic (tested to agree
on tokens and, up to float rounding, on scores). On a CPU, ONNX Runtime's
fused BERT kernels run this encoder faster than PyTorch eager; the README has
the figures.

onnx and onnxruntime come with the ``onnx`` extra, so they are imported only
where an export or a session needs them (``_require`` says how to install
them when they are missing); the rest of macedonizer does not need them.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch

from .errors import MacedonizerError
from .inference import load_masked_lm

ONNX_FILE = Path("onnx") / "encoder.onnx"
INSTALL_HINT = "ONNX export and inference need onnx and onnxruntime: pip install 'macedonizer[onnx]'."
OPSET = 17


def _require() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise MacedonizerError(INSTALL_HINT) from None


class Encoder(torch.nn.Module):
    """The encoder of a masked-LM as a module of (input_ids, attention_mask) -> last hidden state."""

    def __init__(self, base):
        super().__init__()
        self.base = base

    def forward(self, input_ids, attention_mask):
        return self.base(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def export_onnx(model_dir: str | os.PathLike) -> Path:
    """Write ``model_dir/onnx/encoder.onnx``, check it against PyTorch, and return its path."""
    _require()
    model_dir = Path(model_dir)
    tokenizer, model = load_masked_lm(model_dir, f"in {model_dir}")
    encoder = Encoder(model.base_model).eval()
    # Two texts of different lengths, so that padding and its attention mask are part of the trace.
    example = tokenizer(["Скопје е главен [MASK] на Македонија.", "Утре ќе одам на [MASK]."],
                        padding=True, return_tensors="pt")
    inputs = (example["input_ids"], example["attention_mask"])
    out = model_dir / ONNX_FILE
    out.parent.mkdir(exist_ok=True)
    partial = out.with_suffix(".onnx.partial")
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        # The TorchScript exporter: seconds for a BERT encoder, where the dynamo exporter takes a minute.
        torch.onnx.export(encoder, inputs, str(partial), input_names=["input_ids", "attention_mask"],
                          output_names=["hidden"], opset_version=OPSET, dynamo=False,
                          dynamic_axes={name: {0: "batch", 1: "sequence"}
                                        for name in ("input_ids", "attention_mask", "hidden")})
        expected = encoder(*inputs).numpy()
    got = OnnxEncoder(partial, threads=1)(*inputs).numpy()
    real = example["attention_mask"].numpy().astype(bool)
    if not np.allclose(got[real], expected[real], atol=1e-4, rtol=1e-3):
        partial.unlink()
        raise MacedonizerError("The ONNX export does not reproduce the PyTorch encoder; nothing was written.")
    os.replace(partial, out)
    return out


class OnnxEncoder:
    """The exported encoder under ONNX Runtime: (input_ids, attention_mask) tensors -> hidden states."""

    def __init__(self, path: str | os.PathLike, threads: int):
        _require()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, input_ids, attention_mask):
        hidden, = self._session.run(["hidden"], {"input_ids": input_ids.numpy(),
                                                 "attention_mask": attention_mask.numpy()})
        return torch.from_numpy(hidden)
