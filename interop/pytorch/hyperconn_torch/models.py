"""hyperconn's TinyTransformer and DeepResidualMLP rebuilt in PyTorch from an export of
`toReferenceModel` (docs/interop.md, "Models"): the model's own layers under hyperconn's
state-dict names, each hyper-connection a reference module under its reference names."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .reference import MODULES


class RMSNorm(nn.Module):
    """hyperconn's RMSNorm: x / sqrt(mean(x^2) + eps) * weight."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class MLP(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class CausalSelfAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = (z.reshape(b, t, self.heads, -1).transpose(1, 2) for z in self.qkv(x).split(d, dim=-1))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads)
        future = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        mixed = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1) @ v
        return self.proj(mixed.transpose(1, 2).reshape(b, t, d))


class PreNormBranch(nn.Module):
    def __init__(self, dim, layer, eps):
        super().__init__()
        self.norm, self.layer = RMSNorm(dim, eps), layer

    def forward(self, x):
        return self.layer(self.norm(x))


class Residual(nn.Module):
    """The one-stream residual x + F(x) (the references' `Residual`)."""

    def forward(self, residuals, branch):
        return residuals + branch(residuals)


def connection(variant, spec):
    return Residual() if spec["module"] == "Residual" else MODULES[variant](**spec["config"])


def through(conn, h, branch):
    """A hyper-connection on streams [b, t, n, d] (the reference modules take (b*n, t, d))."""
    b, t, n, d = h.shape
    out = conn(h.transpose(1, 2).reshape(b * n, t, d), branch)
    return out.reshape(b, n, t, d).transpose(1, 2)


class TransformerBlock(nn.Module):
    def __init__(self, c, paths):
        super().__init__()
        self.attn = PreNormBranch(c["dim"], CausalSelfAttention(c["dim"], c["heads"]), c["eps"])
        self.attnConnection = connection(c["variant"], c["connections"][paths[0]])
        self.mlp = PreNormBranch(c["dim"], MLP(c["dim"], c["hidden"]), c["eps"])
        self.mlpConnection = connection(c["variant"], c["connections"][paths[1]])

    def forward(self, h):
        h = through(self.attnConnection, h, self.attn)
        return through(self.mlpConnection, h, self.mlp)


class TinyTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n = c["n"]
        self.tokenEmbedding = nn.Embedding(c["vocabSize"], c["dim"])
        self.positionEmbedding = nn.Embedding(c["seqLen"], c["dim"])
        self.blocks = nn.ModuleList(
            TransformerBlock(c, (f"blocks.{b}.attnConnection", f"blocks.{b}.mlpConnection")) for b in range(c["depth"])
        )
        self.norm = RMSNorm(c["dim"], c["eps"])
        self.head = None if c["tiedHead"] else nn.Linear(c["dim"], c["vocabSize"], bias=False)

    def forward(self, tokens):
        x = self.tokenEmbedding(tokens) + self.positionEmbedding(torch.arange(tokens.shape[1], device=tokens.device))
        h = x.unsqueeze(2).expand(-1, -1, self.n, -1)  # repeat into n streams
        for block in self.blocks:
            h = block(h)
        y = self.norm(h.sum(2))
        return y @ self.tokenEmbedding.weight.T if self.head is None else self.head(y)

    def loss(self, tokens):
        logits = self(tokens[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))


class MLPBlock(nn.Module):
    def __init__(self, c, path):
        super().__init__()
        self.branch = PreNormBranch(c["dim"], MLP(c["dim"], c["hidden"]), c["eps"])
        self.connection = connection(c["variant"], c["connections"][path])


class DeepResidualMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n = c["n"]
        self.input = nn.Linear(c["inputDim"], c["dim"])
        self.blocks = nn.ModuleList(MLPBlock(c, f"blocks.{k}.connection") for k in range(c["depth"]))
        self.norm = RMSNorm(c["dim"], c["eps"])
        self.head = nn.Linear(c["dim"], c["outputDim"])

    def forward(self, x):
        tokens = x.unsqueeze(1) if x.dim() == 2 else x
        h = self.input(tokens).unsqueeze(2).expand(-1, -1, self.n, -1)
        for block in self.blocks:
            h = through(block.connection, h, block.branch)
        y = self.head(self.norm(h.sum(2)))
        return y[:, 0] if x.dim() == 2 else y


def build_model(config, tensors):
    """The model of `config` (a toReferenceModel config) holding `tensors` (strict load)."""
    assert config["format"] == "hyperconn-model/1", f"unknown format {config['format']}"
    model = {"TinyTransformer": TinyTransformer, "DeepResidualMLP": DeepResidualMLP}[config["model"]](config)
    model.load_state_dict(tensors, strict=True)
    return model
