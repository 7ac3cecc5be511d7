"""A small safetensors reader/writer (8-byte little-endian header length, JSON header, raw
little-endian data), used when Python's `safetensors` package is not installed."""
import json
import struct

import torch

try:  # the real package when it is there
    from safetensors import safe_open as _safe_open
    from safetensors.torch import save_file as _save_file
except ImportError:  # pragma: no cover - depends on the machine
    _safe_open = _save_file = None

DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
}
CODES = {v: k for k, v in DTYPES.items()}


def read(path):
    """(tensors by name, metadata dict) of a safetensors file."""
    if _safe_open is not None:
        with _safe_open(path, framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    body = data[8 + length :]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        raw, dtype = bytearray(body[begin:end]), DTYPES[entry["dtype"]]
        flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(entry["shape"]).clone()
    return tensors, metadata


def write(path, tensors, metadata=None):
    """Writes `tensors` (name -> tensor) and string `metadata`; aligned as the reference writer."""
    if _save_file is not None:
        _save_file({k: v.contiguous() for k, v in tensors.items()}, path, metadata=metadata)
        return
    items = sorted(tensors.items(), key=lambda kv: (-kv[1].element_size(), kv[0]))
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, t in items:
        raw = t.detach().contiguous().cpu().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": CODES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
