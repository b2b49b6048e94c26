"""Training: masked-LM pretraining of one BERT size, one idea a module.

* ``pretrain``: ``run``, the wiring of one run (what ``macedonizer pretrain``,
  build, sweep and prune call).
* ``data``: the corpus tokenised once into packed, cached sequences, and the
  seeded order in which a run reads them.
* ``masking``: dynamic masked-LM masking and the seeded generators it draws from.
* ``model``: the transformers configs, a fresh or a saved masked-LM, the
  sparse masked-LM head, AdamW, torch.compile and DDP.
* ``initialization``: ``local`` init, the start that leaves the plateau.
* ``device``: the process group under torchrun, the device, the precision
  and the hardware's peak FLOP/s.
* ``loop``: the training loop: steps, accumulation, the learning-rate
  schedule, the budget, logging, and what stops a run.
* ``checkpoint``: saving, finding and resuming checkpoints, RNG state.
* ``evaluate``: honest masked-LM scores beside the baselines, of sequences
  and of text files (``macedonizer eval``).
* ``output``: training_config.json and the finished model folder.

Nothing is imported here, so ``import macedonizer.train`` loads no torch:
import the module you need (``from macedonizer.train.pretrain import run``).
"""
