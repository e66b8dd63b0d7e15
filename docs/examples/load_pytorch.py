"""Load an Agora model export (`agora job model ID --out DIR`) in PyTorch and predict.

    python3 docs/examples/load_pytorch.py DIR ROWS.json

DIR holds model.safetensors (named weights) and config.json (architecture + preprocessing).
ROWS.json is a JSON list of rows: objects of column values for tabular models, lists of pixel
values (0..255) for image models. Prints one JSON prediction per row: the label and the class
probabilities, or for a regression model the value in the label's units. Needs only torch (the safetensors file is read with the standard library).
"""
import json
import struct
import sys

import torch
from torch import nn

MISSING = {"", "na", "nan", "null", "none", "?"}


def read_safetensors(path):
    """Tensors of a safetensors file: 8-byte little-endian header size, JSON header, raw data."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", t["dtype"]
        start, end = t["data_offsets"]
        buf = bytearray(data[start:end])
        out[name] = torch.frombuffer(buf, dtype=torch.float32).reshape(t["shape"]).clone()
    return out


class Mlp(nn.Module):
    """sizes = [inputs, hidden..., outputs]; ReLU (or GELU) between layers, none after the last."""

    def __init__(self, sizes, activation="relu"):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = nn.GELU(approximate="tanh") if activation == "gelu" else nn.ReLU()

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i + 1 < len(self.layers):
                x = self.act(x)
        return x


def missing(v):
    return v is None or (isinstance(v, str) and v.strip().lower() in MISSING)


def number(v):
    if missing(v):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"not a number: {v!r}")
    return x if x == x and abs(x) != float("inf") else None


def features(prep, row):
    """Model inputs of one row, exactly as agora encodes them (config.json `preprocessing`)."""
    if prep["task"] == "image":
        flat = torch.tensor(row, dtype=torch.float64).flatten()
        return (flat * prep["input"]["scale"]).to(torch.float32)
    out = []
    for c in prep["numeric"]:
        x = number(row.get(c["name"]))
        if x is None:
            x = c["mean"] if prep["missing"]["numeric"] == "mean" else 0.0
        # agora computes (x - mean) / std in float64, then rounds to float32
        out.append((x - c["mean"]) / c["std"])
    for c in prep["categorical"]:
        v = row.get(c["name"])
        one_hot = [0.0] * len(c["values"])
        if not missing(v) and str(v).strip() in c["values"]:
            one_hot[c["values"].index(str(v).strip())] = 1.0
        out.extend(one_hot)
    return torch.tensor(out, dtype=torch.float64).to(torch.float32)


def load(model_dir):
    with open(f"{model_dir}/config.json") as f:
        config = json.load(f)
    arch = config["architecture"]
    assert arch["kind"] == "mlp", "this script rebuilds MLPs"
    model = Mlp(arch["sizes"], arch.get("activation", "relu"))
    model.load_state_dict(read_safetensors(f"{model_dir}/model.safetensors"), strict=False)
    model.eval()
    return config, model


def predict(model_dir, rows):
    config, model = load(model_dir)
    prep = config["preprocessing"]
    x = torch.stack([features(prep, r) for r in rows])
    if config["objective"] == "regression":
        # one output, trained on the standardized target: map it back to the label's units
        t = prep["target"]
        with torch.no_grad():
            out = model(x)[:, 0].to(torch.float64)
        return [{"value": float(v * t["std"] + t["mean"])} for v in out]
    with torch.no_grad():
        probs = torch.softmax(model(x), dim=1)
    classes = prep["classes"]
    return [
        {
            "label": classes[int(p.argmax())],
            "classId": int(p.argmax()),
            "probabilities": {c: float(p[j]) for j, c in enumerate(classes)},
        }
        for p in probs
    ]


if __name__ == "__main__":
    with open(sys.argv[2]) as f:
        rows = json.load(f)
    print(json.dumps(predict(sys.argv[1], rows)))
