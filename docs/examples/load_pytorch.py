"""Load an Agora model export (`agora job model ID --out DIR`) in PyTorch and predict.

    python3 docs/examples/load_pytorch.py DIR ROWS.json

DIR holds model.safetensors (named weights) and config.json (architecture + preprocessing).
ROWS.json is a JSON list of rows: objects of column values for tabular models, lists of pixel
values (0..255, CHW order for a CNN: see the export's config.json `preprocessing.input`) for image
models (MLP or CNN). Prints one JSON prediction per row: the label and the class probabilities, or
for a regression model the value in the label's units. Needs only torch (the safetensors file is
read with the standard library).
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


class Cnn(nn.Module):
    """The small CNN of an agora export: conv blocks (Conv2d, ReLU, pool), flatten or global average
    pool, dense layers with ReLU between them. Parameter names match model.safetensors (conv{i}, fc{j})."""

    def __init__(self, arch):
        super().__init__()
        self.arch = arch
        c = arch["input"]["channels"]
        h, w = arch["input"]["height"], arch["input"]["width"]
        for i, b in enumerate(arch["blocks"]):
            k = b["kernel"]
            pad = k // 2 if b.get("padding", "same") == "same" else b["padding"]
            stride = b.get("stride", 1)
            setattr(self, f"conv{i}", nn.Conv2d(c, b["channels"], k, stride=stride, padding=pad))
            c = b["channels"]
            h, w = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
            if b.get("pool"):
                size = b["pool"]["size"]
                ps = b["pool"].get("stride", size)
                h, w = (h - size) // ps + 1, (w - size) // ps + 1
        dense = [c if arch.get("reduce") == "gap" else c * h * w, *arch.get("hidden", []), arch["classes"]]
        self.dense = len(dense) - 1
        for j in range(self.dense):
            setattr(self, f"fc{j}", nn.Linear(dense[j], dense[j + 1]))

    def forward(self, x):
        a = self.arch
        x = x.reshape(-1, a["input"]["channels"], a["input"]["height"], a["input"]["width"])
        for i, b in enumerate(a["blocks"]):
            x = torch.relu(getattr(self, f"conv{i}")(x))
            pool = b.get("pool")
            if pool:
                size, stride = pool["size"], pool.get("stride", pool["size"])
                f = nn.functional.max_pool2d if pool["kind"] == "max" else nn.functional.avg_pool2d
                x = f(x, size, stride)
        x = x.mean(dim=(2, 3)) if a.get("reduce") == "gap" else x.flatten(1)
        for j in range(self.dense):
            x = getattr(self, f"fc{j}")(x)
            if j + 1 < self.dense:
                x = torch.relu(x)
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
    assert arch["kind"] in ("mlp", "cnn"), "this script rebuilds MLPs and CNNs"
    if arch["kind"] == "cnn":
        model = Cnn(arch)
    else:
        model = Mlp(arch["sizes"], arch.get("activation", "relu"))
    model.load_state_dict(read_safetensors(f"{model_dir}/model.safetensors"), strict=True)
    model.eval()
    return config, model


def predict(model_dir, rows):
    config, model = load(model_dir)
    prep = config["preprocessing"]
    x = torch.stack([features(prep, r) for r in rows])
    if config.get("objective") == "regression":
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
