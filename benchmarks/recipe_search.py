"""The recipe search behind docs/recipes.md: one masked-LM run, scored honestly on held-out text every minute.

A small harness around macedonizer's own pieces (packed data, masking, the
sparse head, the n-gram baseline) with the knobs the search varied, some of
which are not `macedonizer pretrain` options because they lost: sinusoidal
position init (--sinpos), ModernBERT (--arch modern), a unigram output bias
(--ubias). --local S is macedonizer's `init = "local"` with sharpness S.
Every minute of training (evaluation time excluded) it scores ntrex with every
scored token masked and prints one JSON line; the learning rate decays
linearly to 0 at the end of --minutes by the clock.

    python benchmarks/recipe_search.py --tok tok/ --data corpus/ --minutes 4 --threads 1 \
        --init 0.088 --local 4 --bs 32 --lr 3e-3 --name H
"""
import argparse, json, math, time
from pathlib import Path
import numpy as np, torch, torch.nn.functional as F
from tokenizers import Tokenizer
from transformers import AutoTokenizer
from macedonizer.train.data import build_cache
from macedonizer.train.masking import Masker, generator as _generator
from macedonizer.configs import MaskingConfig, ModelSize, TrainConfig
from macedonizer.train.model import SparseMLM, build_model
from macedonizer.baselines import unigram_baseline
from macedonizer.train.evaluate import pack_lines, read_lines
from macedonizer.train.initialization import local_init

p = argparse.ArgumentParser()
p.add_argument("--tok", required=True); p.add_argument("--data", required=True); p.add_argument("--heldout", default=str(Path(__file__).resolve().parents[1].parent / "shared/corpora/mk/ntrex.txt"))
p.add_argument("--size", default="tiny"); p.add_argument("--minutes", type=float, default=5)
p.add_argument("--lr", type=float, default=2e-3); p.add_argument("--warmup", type=float, default=0.05)
p.add_argument("--bs", type=int, default=64); p.add_argument("--seq", type=int, default=128)
p.add_argument("--rate", type=float, default=0.15); p.add_argument("--mask_share", type=float, default=0.8)
p.add_argument("--init", type=float, default=0.02); p.add_argument("--variant", default="post-ln")
p.add_argument("--dropout", type=float, default=0.0); p.add_argument("--bf16", type=int, default=1)
p.add_argument("--eval_every", type=float, default=60); p.add_argument("--name", default="run")
p.add_argument("--wd", type=float, default=0.01); p.add_argument("--sinpos", type=int, default=0); p.add_argument("--arch", default="bert"); p.add_argument("--local", type=float, default=0); p.add_argument("--ubias", type=int, default=0); p.add_argument("--resid", type=float, default=0); p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
data = build_cache([a.data], a.tok, a.seq, progress=False)
vocab = Tokenizer.from_file(a.tok + "/tokenizer.json").get_vocab()
cfg = TrainConfig(size=a.size, dropout=a.dropout, variant=a.variant, init="bert", init_std=a.init)
size = ModelSize.from_name(a.size)
model = build_model(size, vocab, cfg)
if a.sinpos:
    pe = model.base_model.embeddings.position_embeddings.weight
    n, d = pe.shape
    pos = torch.arange(n)[:, None].float(); i = torch.arange(0, d, 2).float()
    ang = pos / (10000 ** (i / d))
    sin = torch.zeros(n, d); sin[:, 0::2] = torch.sin(ang); sin[:, 1::2] = torch.cos(ang)
    with torch.no_grad(): pe.copy_(sin * (a.init * math.sqrt(2)) * a.sinpos)
if a.local:
    local_init(model, a.local)
if a.resid:  # scale each layer's two output projections (attention, FFN) by a.resid / sqrt(2 * layers)
    with torch.no_grad():
        for layer in model.base_model.encoder.layer:
            for linear in (layer.attention.output.dense, layer.output.dense):
                linear.weight.mul_(a.resid / math.sqrt(2 * len(model.base_model.encoder.layer)))
if a.ubias:
    from macedonizer.baselines import unigram_log_probs
    with torch.no_grad():
        model.cls.predictions.bias.copy_(torch.tensor(unigram_log_probs(data.token_counts), dtype=torch.float32))
if a.arch == "modern":
    from transformers import ModernBertConfig, ModernBertForMaskedLM
    h = size.hidden
    mc = ModernBertConfig(vocab_size=len(vocab), hidden_size=h, num_hidden_layers=size.layers, num_attention_heads=max(1, h // 64),
        intermediate_size=int(h * 4 * 2 / 3) // 2 * 2, max_position_embeddings=512, global_attn_every_n_layers=1, local_attention=128,
        pad_token_id=vocab["[PAD]"], cls_token_id=vocab["[CLS]"], sep_token_id=vocab["[SEP]"], bos_token_id=vocab["[CLS]"], eos_token_id=vocab["[SEP]"],
        mlp_dropout=a.dropout, attention_dropout=a.dropout, embedding_dropout=a.dropout, initializer_range=a.init, attn_implementation="sdpa")
    model = ModernBertForMaskedLM(mc)
    class SM(torch.nn.Module):
        def __init__(s_, m): super().__init__(); s_.mlm = m
        def forward(s_, input_ids, attention_mask, labels):
            hdn = s_.mlm.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            sel = labels != -100
            logits = s_.mlm.decoder(s_.mlm.head(hdn[sel]))
            t = labels[sel]
            return F.cross_entropy(logits.float(), t), (logits.argmax(-1) == t).sum(), t.numel()
    sparse = SM(model)
else:
    sparse = SparseMLM(model)
train_masker = Masker(MaskingConfig(rate=a.rate, mask_share=a.mask_share, random_share=(1 - a.mask_share) / 2), vocab)
honest = Masker(MaskingConfig(rate=0.15, mask_share=1.0, random_share=0.0), vocab)
hf_tok = AutoTokenizer.from_pretrained(a.tok)
ntrex = pack_lines(hf_tok, read_lines(a.heldout), a.seq)
pad = vocab["[PAD]"]
nodecay = [p_ for n, p_ in model.named_parameters() if p_.ndim < 2 or "LayerNorm" in n]
decay = [p_ for n, p_ in model.named_parameters() if not (p_.ndim < 2 or "LayerNorm" in n)]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": nodecay, "weight_decay": 0}], lr=a.lr, betas=(0.9, 0.98), eps=1e-6)

NG = None
def honest_eval():
    sparse.eval(); tl = 0; c = 0; m = 0; labs = []
    with torch.no_grad():
        for b, s in enumerate(range(0, len(ntrex), 64)):
            ids = torch.from_numpy(ntrex[s:s + 64].astype(np.int64))
            inp, lab = honest(ids, _generator(0, 1_000_003, b))
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(a.bf16)):
                loss, cc, n = sparse(inp, ids != pad, lab)
            tl += float(loss) * n; c += int(cc); m += n; labs.append(lab[lab != -100])
    sparse.train()
    ul, ua = unigram_baseline(data.token_counts, torch.cat(labs))
    global NG
    if NG is None:
        ins, lbs = [], []
        for b, s in enumerate(range(0, len(ntrex), 64)):
            ids = torch.from_numpy(ntrex[s:s + 64].astype(np.int64)); i_, l_ = honest(ids, _generator(0, 1_000_003, b)); ins.append(i_.numpy()); lbs.append(l_.numpy())
        L, C = data.ngram_baseline().scores_for(ins, lbs, honest.mask_id, pad); NG = (round(L.mean(), 4), round(C.mean(), 4))
    return tl / m, c / m, ul, ua

budget = a.minutes * 60
start = time.time(); eval_time = 0; step = 0; tokens = 0; next_eval = a.eval_every
n = len(data.train); rng = np.random.default_rng(0); perm = rng.permutation(n); pos = 0
log = open(f"{a.name}.jsonl", "w")
while True:
    el = time.time() - start - eval_time
    if el >= budget: break
    prog = el / budget
    lr = a.lr * (prog / a.warmup if prog < a.warmup else max(0.0, 1 - (prog - a.warmup) / (1 - a.warmup)))
    for g in opt.param_groups: g["lr"] = lr
    if pos + a.bs > n: perm = rng.permutation(n); pos = 0
    rows = np.sort(perm[pos:pos + a.bs]); pos += a.bs
    ids = torch.from_numpy(data.train[rows].astype(np.int64))
    inp, lab = train_masker(ids, _generator(0, step))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(a.bf16)):
        loss, _, _ = sparse(inp, ids != pad, lab)
    loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); opt.zero_grad(set_to_none=True)
    step += 1; tokens += a.bs * a.seq
    if el >= next_eval or False:
        t0 = time.time(); r = honest_eval(); eval_time += time.time() - t0
        rec = dict(min=round(el / 60, 2), step=step, tokens=tokens, train_loss=round(loss.item(), 3), loss=round(r[0], 4), acc=round(r[1], 4), uni=round(r[2], 4), uacc=round(r[3], 4), ng=NG, tok_s=round(tokens / el))
        print(json.dumps(rec), flush=True); log.write(json.dumps(rec) + "\n"); log.flush()
        next_eval += a.eval_every
r = honest_eval()
rec = dict(final=True, min=round(budget / 60, 2), step=step, tokens=tokens, loss=round(r[0], 4), acc=round(r[1], 4), uni=round(r[2], 4), uacc=round(r[3], 4), ng=NG, args=vars(a))
print(json.dumps(rec), flush=True); log.write(json.dumps(rec) + "\n")
