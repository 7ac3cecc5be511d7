"""Continues training a hyperconn TinyTransformer in PyTorch, on one process or under
torch.distributed (DDP, gloo on CPU):

    npx tsx interop/export-model.ts /tmp/hyperconn-model.safetensors
    python3 -m torch.distributed.run --nproc_per_node=2 interop/pytorch/continue_ddp.py \\
        /tmp/hyperconn-model.safetensors --steps 60

Rank 0 first checks that the rebuild reproduces hyperconn's logits and loss on the exported
check batch. Each rank then draws its own batches; DDP averages the gradients.
"""
import argparse
import json
import os
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hyperconn_torch import safetensors_io  # noqa: E402
from hyperconn_torch.models import build_model  # noqa: E402

TEXT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "genesis-kjv.txt")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("export")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=8, help="per process")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--save", default=None, help="write the trained weights (safetensors) here")
    args = parser.parse_args()

    distributed = "WORLD_SIZE" in os.environ
    if distributed:
        dist.init_process_group("gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)

    tensors, meta = safetensors_io.read(args.export)
    config = json.loads(meta["config"])
    torch.set_default_dtype(getattr(torch, config["dtype"]))
    check_tokens = tensors.pop("check.tokens").long()
    check_logits = tensors.pop("check.logits")
    model = build_model(config, tensors)
    if rank == 0:
        with torch.no_grad():
            gap = (model(check_tokens[:, :-1]) - check_logits).abs().max().item()
            loss = model.loss(check_tokens).item()
        print(f"rebuild check: max |logits - hyperconn| = {gap:.3e}; "
              f"check loss {loss:.6f} (hyperconn {float(meta['check_loss']):.6f})", flush=True)

    vocab = {ch: i for i, ch in enumerate(json.loads(meta["vocab"]))}
    with open(TEXT, encoding="utf-8") as f:
        ids = torch.tensor([vocab[ch] for ch in f.read()])
    seq = config["seqLen"]
    ddp = DistributedDataParallel(model) if distributed else model
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay}, {"params": rest, "weight_decay": 0.0}], lr=args.lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(1000 + rank)  # each rank its own batches
    for step in range(1, args.steps + 1):
        starts = torch.randint(0, len(ids) - seq - 1, (args.batch,), generator=gen)
        batch = torch.stack([ids[s : s + seq + 1] for s in starts.tolist()])
        logits = ddp(batch[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 0:
            mean = loss.detach().clone()
            if distributed:
                dist.all_reduce(mean)
                mean /= world
            if rank == 0:
                with torch.no_grad():
                    check = model.loss(check_tokens).item()
                print(f"step {step:4d}  train loss (mean over {world} ranks) {mean.item():.4f}  "
                      f"check-batch loss {check:.4f}", flush=True)
    if rank == 0 and args.save:
        with torch.no_grad():
            print(f"final check-batch loss {model.loss(check_tokens).item():.6f}; weights saved to {args.save}")
        safetensors_io.write(args.save, dict(model.state_dict()), {"config": meta["config"]})
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
