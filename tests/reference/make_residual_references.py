"""Reference values for the branching networks of tests/NtkDsl.Tests/Residual/ResidualNetworks.cs, by PyTorch autograd.

Run with Debian's python3-torch (1.13): /usr/bin/python3 make_residual_references.py > residual-references.json

Each network is written out by hand with torch ops (F.linear, F.conv2d with zero padding 1 for the 3x3 Same
convolutions, F.layer_norm over the features, and for NCHW activations the mean and biased variance over the channel
axis at each position, torch.cat along features or channels, x + f(x)), so it shares no code with NtkDsl. NTK
parameterization: z = (w_std / sqrt(fan_in)) W a + b_std b. Parameters are drawn here (float64, seed 0) and stored in
NtkDsl's public layout, layer by layer in the order the blocks expand (branches in the order they are listed): weight
([C_out, C_in, kh, kw] or [out, in]) row-major, then the bias. Inputs are NCHW rows, x.reshape(N, -1).

Per case: theta, x1 [N1, d], x2, forward_x1 [N1, O], jacobian_x1 [N1, O, P] (torch.autograd.functional.jacobian) and
ntk_full [N1, N2, O, O] = sum_p J1[i, a, p] J2[j, b, p]. Expect ~1e-12 relative agreement in float64.
"""
import json
import math

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
EPS = 1e-5


class Params:
    """Reads layers' parameters off the flat vector in order."""

    def __init__(self, theta, w_std, b_std):
        self.theta, self.offset, self.w_std, self.b_std = theta, 0, w_std, b_std

    def take(self, *shape):
        n = math.prod(shape)
        v = self.theta[self.offset:self.offset + n].reshape(shape)
        self.offset += n
        return v

    def dense(self, a, width, bias=True):
        w = self.take(width, a.shape[1])
        z = F.linear(a, w) * (self.w_std / math.sqrt(a.shape[1]))
        return z + self.b_std * self.take(width) if bias else z

    def conv(self, a, channels, k):
        w = self.take(channels, a.shape[1], k, k)
        z = F.conv2d(a, w, padding=(k - 1) // 2) * (self.w_std / math.sqrt(a.shape[1] * k * k))
        return z + self.b_std * self.take(channels).reshape(1, channels, 1, 1)


def channel_norm(a):
    mean = a.mean(dim=1, keepdim=True)
    var = ((a - mean) ** 2).mean(dim=1, keepdim=True)
    return (a - mean) / torch.sqrt(var + EPS)


def residual_mlp(p, x):
    h = p.dense(x, 5)
    for _ in range(2):
        h = h + p.dense(torch.relu(F.layer_norm(h, (5,), eps=EPS)), 5)
    return p.dense(torch.erf(F.layer_norm(h, (5,), eps=EPS)), 2)


def residual_conv(p, x):
    h = p.conv(x.reshape(-1, 2, 5, 5), 3, 3)
    h = h + p.conv(torch.relu(channel_norm(h)), 3, 3)
    h = torch.tanh(channel_norm(h)).mean(dim=(2, 3))
    return p.dense(h, 2)


def concat(p, x):
    h = torch.tanh(p.dense(x, 4))
    left = torch.relu(p.dense(h, 3))
    right = p.dense(h, 2)
    return p.dense(torch.cat([left, right], dim=1), 2)


def projection_concat(p, x):
    h = torch.relu(p.conv(x.reshape(-1, 1, 4, 4), 2, 3))
    h = torch.cat([p.conv(h, 3, 3), p.conv(h, 1, 1)], dim=1)
    h = torch.relu(h).reshape(h.shape[0], -1)
    wide = p.dense(torch.erf(p.dense(h, 6)), 6)
    projection = p.dense(h, 6, bias=False)
    return p.dense(wide + projection, 1)


# name: (function, input size, parameter count, w_std, b_std)
NETS = {
    "ResidualMlp": (residual_mlp, 3, 20 + 2 * 30 + 12, 1.3, 0.2),
    "ResidualConvNet": (residual_conv, 50, (3 * 2 * 9 + 3) + (3 * 3 * 9 + 3) + (2 * 3 + 2), 1.2, 0.3),
    "ConcatNet": (concat, 3, 16 + 15 + 10 + 12, 1.1, 0.4),
    "ProjectionConcatNet": (projection_concat, 16, (2 * 9 + 2) + (3 * 2 * 9 + 3) + (2 + 1) + (64 * 6 + 6) + (36 + 6) + 64 * 6 + (6 + 1), 1.4, 0.1),
}


def main():
    gen = torch.Generator().manual_seed(0)
    cases = []
    for name, (net, size, count, w_std, b_std) in NETS.items():
        def forward(t, x):
            p = Params(t, w_std, b_std)
            f = net(p, x)
            assert p.offset == t.numel(), (name, p.offset, t.numel())
            return f

        theta = torch.randn(count, generator=gen)
        x1 = torch.randn(3, size, generator=gen)
        x2 = torch.randn(2, size, generator=gen)
        f = forward(theta, x1)
        j1 = torch.autograd.functional.jacobian(lambda t: forward(t, x1), theta)  # [N1, O, P]
        j2 = torch.autograd.functional.jacobian(lambda t: forward(t, x2), theta)
        ntk = torch.einsum("iap,jbp->ijab", j1, j2)
        cases.append(dict(network=name, theta=theta.tolist(), x1=x1.tolist(), x2=x2.tolist(),
                          forward_x1=f.tolist(), jacobian_x1=j1.tolist(), ntk_full=ntk.tolist()))
    print(json.dumps(dict(generator=f"make_residual_references.py, torch {torch.__version__}, float64", cases=cases)))


if __name__ == "__main__":
    main()
