"""Builds each reference module from its formulas (hyperconn_torch.reference), loads hyperconn's
export of a layer (test/fixtures/interop/<case>.export.safetensors, written by
interop/export-layers.ts), runs a forward and a backward pass on fixed inputs, and writes
inputs, weights, outputs and gradients to test/fixtures/interop/<case>.safetensors. Likewise
for the two model exports (model-<kind>.export.safetensors), rebuilt by hyperconn_torch.models.

    python3 interop/pytorch/make_fixtures.py

The branch is F(u) = tanh(u @ branch_weight); the loss is sum(y * cotangent). Tensors in the
fixture use hyperconn's layout [batch, seq, streams, dim]; the module sees the references'
(batch*streams, seq, dim).
"""
import glob
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hyperconn_torch import safetensors_io  # noqa: E402
from hyperconn_torch.models import build_model  # noqa: E402
from hyperconn_torch.reference import MODULES  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "interop")
BATCH, SEQ = 2, 2


def run_case(path):
    name = os.path.basename(path)[: -len(".export.safetensors")]
    weights, meta = safetensors_io.read(path)
    dtype = next(iter(weights.values())).dtype
    config = json.loads(meta["config"])
    torch.set_default_dtype(dtype)  # the module's own constants (J, Uz, ...) in the fixture's dtype
    module = MODULES[meta["variant"]](**config)
    module.load_state_dict(weights, strict=True)
    for key, value in module.state_dict().items():
        assert torch.equal(value.to(dtype), weights[key]), f"{name}: {key} did not load exactly"

    n, dim = config["num_residual_streams"], config["dim"]
    gen = torch.Generator().manual_seed(1234)
    x = torch.randn(BATCH, SEQ, n, dim, generator=gen, dtype=dtype, requires_grad=True)
    branch_weight = (torch.randn(dim, dim, generator=gen, dtype=dtype) / dim**0.5).requires_grad_()
    cotangent = torch.randn(BATCH, SEQ, n, dim, generator=gen, dtype=dtype)

    residuals = x.transpose(1, 2).reshape(BATCH * n, SEQ, dim)
    out = module(residuals, lambda u: torch.tanh(u @ branch_weight))
    y = out.reshape(BATCH, n, SEQ, dim).transpose(1, 2)
    (y * cotangent).sum().backward()

    tensors = {"x": x, "branch_weight": branch_weight, "cotangent": cotangent, "y": y}
    tensors["grad.x"] = x.grad
    tensors["grad.branch_weight"] = branch_weight.grad
    for key, value in module.state_dict().items():
        tensors[f"param.{key}"] = value.to(dtype)  # integer buffers (triu_i, triu_j) as floats
    for key, p in module.named_parameters():
        tensors[f"grad.param.{key}"] = p.grad
    tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
    meta = dict(meta, torch=torch.__version__, dtype=str(dtype).replace("torch.", ""))
    safetensors_io.write(os.path.join(FIXTURES, f"{name}.safetensors"), tensors, meta)
    print(f"{name}: |y| = {y.abs().max().item():.4f}, |grad x| = {x.grad.abs().max().item():.4f}")


def run_model(path):
    """The model's output and loss on the export's check inputs, and the gradient of every parameter."""
    name = os.path.basename(path)[: -len(".export.safetensors")]
    tensors, meta = safetensors_io.read(path)
    check = {k: tensors.pop(k) for k in [k for k in tensors if k.startswith("check.")]}
    config = json.loads(meta["config"])
    torch.set_default_dtype(getattr(torch, config["dtype"]))
    model = build_model(config, tensors)
    if config["model"] == "TinyTransformer":
        tokens = check["check.tokens"].long()
        y = model(tokens[:, :-1])
        loss = model.loss(tokens)
    else:
        y = model(check["check.x"])
        loss = (y * check["check.cotangent"]).sum()
    loss.backward()
    out = dict(check, y=y.detach(), loss=loss.detach())
    out.update({f"grad.{k}": p.grad for k, p in model.named_parameters()})
    safetensors_io.write(os.path.join(FIXTURES, f"{name}.safetensors"), out, dict(meta, torch=torch.__version__))
    print(f"{name}: loss {loss.item():.6f}")


def write_dtypes():
    """PyTorch's own F16/BF16 rounding of float32-exact values (ties, subnormals, overflow edges,
    +-0, +-inf, NaN) and some int64/int32 ids, for the safetensors reader and writer."""
    v = [0.0, -0.0, 1.0, -2.0, 1 / 3, 1 + 2**-11, 1 + 3 * 2**-11, 1 + 2**-8, 1 + 3 * 2**-8, 2**-24, 2**-25,
         3 * 2**-25, 2**-14 - 2**-25, 65504.0, 65519.0, 2**-126, 2**-133, 3.0e38, float("inf"), float("-inf"),
         float("nan"), 1e-3, -123.456, 7e-6]
    wide = torch.tensor(v, dtype=torch.float32).double()  # float32-exact: no double rounding in torch
    tensors = {"values": wide, "f16": wide.half(), "bf16": wide.bfloat16()}
    tensors["i64"] = torch.tensor([-(2**53), 0, 2**60, 12345678901])
    tensors["i32"] = torch.tensor([-(2**31), 7], dtype=torch.int32)
    safetensors_io.write(os.path.join(FIXTURES, "dtypes.safetensors"), tensors, {"torch": torch.__version__})
    print(f"dtypes: {len(v)} values as F64, F16, BF16; I64, I32")


def main():
    paths = sorted(glob.glob(os.path.join(FIXTURES, "*.export.safetensors")))
    if not paths:
        sys.exit("no exports found: run `npx tsx interop/export-layers.ts` first")
    for path in paths:
        (run_model if os.path.basename(path).startswith("model-") else run_case)(path)
    write_dtypes()


if __name__ == "__main__":
    main()
