"""The reference hyper-connection modules rebuilt from their formulas, under their own parameter
names and shapes (`state_dict()` keys match the originals), for one input view and no
frac-connections:

- HyperConnections         lucidrains/hyper-connections, hyper_connections.py
- ManifoldConstrainedHC    6zHAOyi/s2HC litgpt/hyper_conn/mhc.py
- MHCLite                  6zHAOyi/s2HC litgpt/hyper_conn/mhc_lite.py
- KromHC                   6zHAOyi/s2HC litgpt/hyper_conn/kromhc.py (n a power of two)
- SHyperConnections        6zHAOyi/s2HC litgpt/hyper_conn/shc.py

Written for hyperconn's fixtures (no code copied). Each module maps residual streams laid out as
the references do, `(batch·streams, seq, dim)` with streams inner, through `forward(x, branch)`,
where the mixing weights act as `out[t] = sum_s H[s, t] x[s]` (the transpose of hyperconn's H_res).
"""
import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    """normalize(x) * sqrt(d) * (gamma + 1), gamma starting at 0."""

    def __init__(self, dim):
        super().__init__()
        self.scale = dim**0.5
        self.gamma = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        return F.normalize(x, dim=-1) * self.scale * (self.gamma + 1)


def _gate_init(n, index, on=1.0, off=-1.0):
    v = torch.full((n,), off)
    v[index % n] = on
    return v


class _Base(nn.Module):
    """Stream layout, the mix and the depth connection shared by every reference module."""

    def __init__(self, num_residual_streams, dim):
        super().__init__()
        self.n, self.dim = num_residual_streams, dim

    def forward(self, residuals, branch):
        b, t, d = residuals.shape[0] // self.n, residuals.shape[1], residuals.shape[2]
        x = residuals.reshape(b, self.n, t, d).transpose(1, 2)  # '(b s) t d -> b t s d'
        alpha, beta = self.maps(x)  # alpha [b, t, s, 1 + s], beta [b, t, s]
        mix = torch.einsum("btsu,btsd->btud", alpha, x)
        branch_input, kept = mix[..., 0, :], mix[..., 1:, :]
        out = branch(branch_input).unsqueeze(-2) * beta.unsqueeze(-1) + kept
        return out.transpose(1, 2).reshape(b * self.n, t, d)


class HyperConnections(_Base):
    """HC: per-stream RMSNorm, alpha = s_a * act(x W) + static, beta = s_b * act(x w) + static."""

    def __init__(self, num_residual_streams, *, dim, layer_index=0, tanh=True, **fixed):
        super().__init__(num_residual_streams, dim)
        n = num_residual_streams
        self.act = torch.tanh if tanh else (lambda v: v)
        self.norm = RMSNorm(dim)
        pre = torch.zeros(n, 1)
        pre[layer_index % n] = 1.0
        self.static_alpha = nn.Parameter(torch.cat((pre, torch.eye(n)), dim=1))
        self.dynamic_alpha_fn = nn.Parameter(torch.zeros(dim, n + 1))
        self.dynamic_alpha_scale = nn.Parameter(torch.ones(()) * 1e-2)
        self.static_beta = nn.Parameter(torch.ones(n))
        self.dynamic_beta_fn = nn.Parameter(torch.zeros(dim))
        self.dynamic_beta_scale = nn.Parameter(torch.ones(()) * 1e-2)

    def maps(self, x):
        normed = self.norm(x)
        alpha = self.act(normed @ self.dynamic_alpha_fn) * self.dynamic_alpha_scale + self.static_alpha
        beta = self.act(normed @ self.dynamic_beta_fn) * self.dynamic_beta_scale + self.static_beta
        return alpha, beta


class _Gated(_Base):
    """RMSNorm over the n*dim token vector and the beta gate 2*sigmoid(.) of the s2HC modules."""

    def __init__(self, num_residual_streams, dim, layer_index):
        super().__init__(num_residual_streams, dim)
        self.norm = RMSNorm(dim * num_residual_streams)
        self._index = layer_index

    def _add_beta(self):
        n = self.n
        self.static_beta = nn.Parameter(_gate_init(n, self._index))
        self.dynamic_beta_fn = nn.Parameter(torch.zeros(self.dim * n, n))
        self.h_post_scale = nn.Parameter(torch.ones(()) * 1e-2)

    def normed(self, x):
        return self.norm(x.reshape(*x.shape[:-2], -1))

    def beta(self, normed):
        return torch.sigmoid(normed @ self.dynamic_beta_fn * self.h_post_scale + self.static_beta) * 2


def sinkhorn_log(logits, iters):
    """Log-domain Sinkhorn: over dim -2, then dim -1, `iters` times; exp at the end."""
    for _ in range(iters):
        logits = logits - torch.logsumexp(logits, dim=-2, keepdim=True)
        logits = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    return logits.exp()


class ManifoldConstrainedHC(_Gated):
    """mHC: alpha = [sigmoid(pre) | Sinkhorn(residual logits)] from one [nC, n(1+n)] projection."""

    def __init__(self, num_residual_streams, *, dim, layer_index=0, sinkhorn_iters=20, **fixed):
        super().__init__(num_residual_streams, dim, layer_index)
        n = num_residual_streams
        self.sinkhorn_iters = sinkhorn_iters
        res = torch.full((n, n), -8.0)
        res.fill_diagonal_(0.0)
        self.static_alpha = nn.Parameter(torch.cat((_gate_init(n, layer_index).unsqueeze(1), res), dim=1))
        self.dynamic_alpha_fn = nn.Parameter(torch.zeros(dim * n, n * (n + 1)))
        self.pre_branch_scale = nn.Parameter(torch.ones(1) * 1e-2)
        self.residual_scale = nn.Parameter(torch.ones(1) * 1e-2)
        self._add_beta()

    def maps(self, x):
        n = self.n
        normed = self.normed(x)
        wc = (normed @ self.dynamic_alpha_fn).reshape(*normed.shape[:-1], n, n + 1)
        scale = torch.cat((self.pre_branch_scale, self.residual_scale.expand(n)))
        alpha = wc * scale + self.static_alpha
        alpha = torch.cat((alpha[..., :1].sigmoid(), sinkhorn_log(alpha[..., 1:], self.sinkhorn_iters)), dim=-1)
        return alpha, self.beta(normed)


def permutation_matrices(n):
    """[n!, n, n], lexicographic; P[k][i, perm_k(i)] = 1."""
    return torch.eye(n)[torch.tensor(list(itertools.permutations(range(n))))]


class MHCLite(_Gated):
    """mHC-lite: residual weights softmax(.) over the n! permutation matrices."""

    def __init__(self, num_residual_streams, *, dim, layer_index=0, **fixed):
        super().__init__(num_residual_streams, dim, layer_index)
        n = num_residual_streams
        count = math.factorial(n)
        res = torch.full((count,), -8.0)
        res[0] = 0.0
        self.static_alpha = nn.Parameter(torch.cat((_gate_init(n, layer_index), res)))
        self.dynamic_alpha_fn = nn.Parameter(torch.zeros(dim * n, count + n))
        self.pre_branch_scale = nn.Parameter(torch.ones(1) * 1e-2)
        self.residual_scale = nn.Parameter(torch.ones(1) * 1e-2)
        self._add_beta()
        self.register_buffer("perms", permutation_matrices(n), persistent=False)

    def maps(self, x):
        n = self.n
        normed = self.normed(x)
        wc = normed @ self.dynamic_alpha_fn
        coeff = torch.softmax(self.residual_scale * wc[..., n:] + self.static_alpha[n:], dim=-1)
        residual = torch.einsum("...r,rij->...ij", coeff, self.perms.to(coeff.dtype))
        pre = torch.sigmoid(self.pre_branch_scale * wc[..., :n] + self.static_alpha[:n]).unsqueeze(-1)
        return torch.cat((pre, residual), dim=-1), self.beta(normed)


class KromHC(_Gated):
    """KromHC, n = 2^K: the Kronecker product of K mixtures [[p, 1-p], [1-p, p]], factor 1 outermost."""

    def __init__(self, num_residual_streams, *, dim, layer_index=0, **fixed):
        super().__init__(num_residual_streams, dim, layer_index)
        n = num_residual_streams
        assert n >= 2 and n & (n - 1) == 0, "KromHC needs n a power of two"
        self.num_factors = int(math.log2(n))
        res = torch.full((2 * self.num_factors,), -8.0)
        res[0::2] = 0.0
        self.static_alpha = nn.Parameter(torch.cat((_gate_init(n, layer_index), res)))
        self.dynamic_alpha_fn = nn.Parameter(torch.zeros(dim * n, 2 * self.num_factors + n))
        self.pre_branch_scale = nn.Parameter(torch.ones(1) * 1e-2)
        self.residual_scale = nn.Parameter(torch.ones(1) * 1e-2)
        self._add_beta()

    def maps(self, x):
        n = self.n
        normed = self.normed(x)
        # one projection onto [alpha | beta] columns, as the reference fuses them
        both = normed @ torch.cat((self.dynamic_alpha_fn, self.dynamic_beta_fn), dim=-1)
        width = self.dynamic_alpha_fn.shape[-1]
        wc = both[..., :width]
        coeff = self.residual_scale * wc[..., n:] + self.static_alpha[n:]
        p = torch.softmax(coeff.reshape(*coeff.shape[:-1], self.num_factors, 2), dim=-1)[..., 0]
        q = 1.0 - p
        factors = torch.stack((torch.stack((p, q), -1), torch.stack((q, p), -1)), -2)  # [..., K, 2, 2]
        h = factors[..., 0, :, :]
        for k in range(1, self.num_factors):
            f = factors[..., k, :, :]
            h = (h[..., :, None, :, None] * f[..., None, :, None, :]).reshape(*h.shape[:-2], 2 * h.shape[-2], -1)
        pre = torch.sigmoid(self.pre_branch_scale * wc[..., :n] + self.static_alpha[:n]).unsqueeze(-1)
        beta = torch.sigmoid(both[..., width:] * self.h_post_scale + self.static_beta) * 2
        return torch.cat((pre, h), dim=-1), beta


class SHyperConnections(_Gated):
    """sHC: H = J + Uz U diag(s) V^T Uz^T, U and V Cayley transforms of skew matrices."""

    def __init__(self, num_residual_streams, *, dim, layer_index=0, **fixed):
        super().__init__(num_residual_streams, dim, layer_index)
        n = num_residual_streams
        m = n - 1
        self.register_buffer("J", torch.ones(n, n) / n)
        uz = torch.zeros(n, m)
        for i in range(1, n):
            value = 1.0 / math.sqrt(i * (i + 1))
            uz[:i, i - 1] = value
            uz[i, i - 1] = -i * value
        self.register_buffer("Uz", uz)
        self.register_buffer("eye_sm1", torch.eye(m))
        rows, cols = torch.triu_indices(m, m, offset=1)
        self.register_buffer("triu_i", rows)
        self.register_buffer("triu_j", cols)
        in_dim = dim * n
        self.to_alpha_pre = nn.Linear(in_dim, n, bias=False)
        self.to_alpha_residual = nn.Linear(in_dim, m * m, bias=False)
        self.to_beta = nn.Linear(in_dim, n, bias=False)
        for linear in (self.to_alpha_pre, self.to_alpha_residual, self.to_beta):
            nn.init.zeros_(linear.weight)
        self.static_alpha_pre = nn.Parameter(_gate_init(n, layer_index).unsqueeze(1))
        bias = torch.zeros(m * m)
        bias[-m:] = 4.0
        self.static_alpha_residual = nn.Parameter(bias)
        self.pre_branch_scale = nn.Parameter(torch.ones(1) * 1e-2)
        self.residual_rot_scale_u = nn.Parameter(torch.ones(1) * 1e-2)
        self.residual_rot_scale_v = nn.Parameter(torch.ones(1) * 1e-2)
        self.residual_val_scale = nn.Parameter(torch.ones(1) * 1e-2)
        self.gamma_u = nn.Parameter(torch.ones(1))
        self.gamma_v = nn.Parameter(torch.ones(1))
        self.static_beta = nn.Parameter(_gate_init(n, layer_index))
        self.h_post_scale = nn.Parameter(torch.ones(()) * 1e-2)

    def _rotation(self, z):
        m = self.n - 1
        a = torch.zeros(*z.shape[:-1], m, m, dtype=z.dtype)
        a[..., self.triu_i, self.triu_j] = z
        a = a - a.transpose(-1, -2)
        return torch.linalg.solve(self.eye_sm1 + a, self.eye_sm1 - a)

    def maps(self, x):
        m = self.n - 1
        k = m * (m - 1) // 2
        normed = self.normed(x)
        pre = torch.sigmoid(self.to_alpha_pre(normed).unsqueeze(-1) * self.pre_branch_scale + self.static_alpha_pre)
        dyn = self.to_alpha_residual(normed)
        stat = self.static_alpha_residual
        z_u = self.gamma_u * torch.tanh(dyn[..., :k] * self.residual_rot_scale_u + stat[:k])
        z_v = self.gamma_v * torch.tanh(dyn[..., k : 2 * k] * self.residual_rot_scale_v + stat[k : 2 * k])
        sigma = torch.tanh(dyn[..., 2 * k :] * self.residual_val_scale + stat[2 * k :])
        e = self._rotation(z_u) @ (sigma.unsqueeze(-1) * self._rotation(z_v).transpose(-1, -2))
        h = self.J + self.Uz @ e @ self.Uz.T
        beta = torch.sigmoid(self.to_beta(normed) * self.h_post_scale + self.static_beta) * 2
        return torch.cat((pre, h), dim=-1), beta


MODULES = {
    "hc": HyperConnections,
    "mhc": ManifoldConstrainedHC,
    "mhcLite": MHCLite,
    "kromhc": KromHC,
    "shc": SHyperConnections,
}
