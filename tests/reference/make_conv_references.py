"""Reference values for the convolutional networks of tests/NtkDsl.Tests/Conv/ConvNetworks.cs, by PyTorch autograd.

Run with Debian's python3-torch (1.13): /usr/bin/python3 make_conv_references.py > conv-references.json

Each network is written with torch.nn.functional ops only (conv2d/conv1d, avg_pool, F.pad), so it shares no code
with NtkDsl: padding as PyTorch's padding='same' (the smaller half before; here also with strides, the TensorFlow
rule total = max((out - 1) * stride + k - n, 0), out = ceil(n / stride)), circular padding by F.pad(mode='circular'),
average pooling counting zero padding. Parameters are drawn here (float64, seed 0) and stored in NtkDsl's public
layout, which is PyTorch's: per layer the weight ([C_out, C_in, kh, kw] for Conv2d, [C_out, C_in, k] for Conv1d,
[out, in] for Linear) row-major, then the bias. Inputs are NCHW (NCL) rows, x.reshape(N, -1).

Per case: theta, x1 [N1, C*H*W], x2, forward_x1 [N1, O], jacobian_x1 [N1, O, P] (torch.autograd.functional.jacobian)
and ntk_full [N1, N2, O, O] = sum_p J1[i, a, p] J2[j, b, p]. Expect ~1e-12 relative agreement in float64.
"""
import json
import math

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def out_size(n, k, s, padding):
    return (n - k) // s + 1 if padding == "valid" else -(-n // s)


def pads(n, k, s, padding):
    if padding == "valid":
        return 0, 0
    total = max((out_size(n, k, s, padding) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def act(kind, z):
    if kind == "relu":
        return torch.relu(z)
    if kind == "erf":
        return torch.erf(z)
    if kind == "tanh":
        return torch.tanh(z)
    if kind == "gelu":
        return z * 0.5 * (1 + torch.erf(z / math.sqrt(2)))
    if kind == "sin":
        return torch.sin(z)
    raise ValueError(kind)


def forward(arch, theta, x):
    """arch: channels, spatial (h, w) or (l,), w_std, b_std, standard, layers."""
    standard = arch["standard"]
    one_d = len(arch["spatial"]) == 1
    a = x.reshape((x.shape[0], arch["channels"]) + tuple(arch["spatial"]))
    offset = 0
    for layer in arch["layers"]:
        kind = layer["kind"]
        if kind == "conv":
            cin, cout, k, s, padding = a.shape[1], layer["channels"], layer["kernel"], layer["stride"], layer["padding"]
            ws, bs = layer.get("w_std", arch["w_std"]), layer.get("b_std", arch["b_std"])
            shape = (cout, cin, k) if one_d else (cout, cin, k, k)
            n_w = math.prod(shape)
            w = theta[offset:offset + n_w].reshape(shape)
            offset += n_w
            b = None
            if layer.get("bias", True):
                b = theta[offset:offset + cout]
                offset += cout
            fan_in = cin * (k if one_d else k * k)
            w_scale = 1.0 if standard else ws / math.sqrt(fan_in)
            b_scale = 1.0 if standard else bs
            mode = "circular" if padding == "circular" else "constant"
            if one_d:
                p = pads(a.shape[2], k, s, padding)
                a = F.pad(a, p, mode=mode)
                z = F.conv1d(a, w, stride=s) * w_scale
            else:
                ph, pw = pads(a.shape[2], k, s, padding), pads(a.shape[3], k, s, padding)
                a = F.pad(a, pw + ph, mode=mode)
                z = F.conv2d(a, w, stride=s) * w_scale
            if b is not None:
                z = z + b_scale * b.reshape((1, cout) + (1,) * (z.dim() - 2))
            a = z
        elif kind in ("avgpool", "sumpool"):
            k, s, padding = layer["window"], layer.get("stride", layer["window"]), layer.get("padding", "valid")
            if one_d:
                a = F.pad(a, pads(a.shape[2], k, s, padding))
                a = F.avg_pool1d(a, k, s) * (k if kind == "sumpool" else 1)
            else:
                a = F.pad(a, pads(a.shape[3], k, s, padding) + pads(a.shape[2], k, s, padding))
                a = F.avg_pool2d(a, k, s) * (k * k if kind == "sumpool" else 1)
        elif kind == "gap":
            a = a.mean(dim=tuple(range(2, a.dim())))
        elif kind == "flatten":
            a = a.reshape(a.shape[0], -1)
        elif kind == "dense":
            fan_in, width = a.shape[1], layer["width"]
            ws, bs = layer.get("w_std", arch["w_std"]), layer.get("b_std", arch["b_std"])
            w = theta[offset:offset + width * fan_in].reshape(width, fan_in)
            offset += width * fan_in
            z = a @ w.T * (1.0 if standard else ws / math.sqrt(fan_in))
            if layer.get("bias", True):
                z = z + (1.0 if standard else bs) * theta[offset:offset + width]
                offset += width
            a = z
        else:
            a = act(kind, a)
    assert offset == theta.numel(), (offset, theta.numel())
    return a


def count(arch):
    one_d = len(arch["spatial"]) == 1
    c, spatial, total = arch["channels"], list(arch["spatial"]), 0
    for layer in arch["layers"]:
        if layer["kind"] == "conv":
            k, s = layer["kernel"], layer["stride"]
            total += layer["channels"] * c * (k if one_d else k * k) + (layer["channels"] if layer.get("bias", True) else 0)
            spatial = [out_size(n, k, s, layer["padding"]) for n in spatial]
            c = layer["channels"]
        elif layer["kind"] in ("avgpool", "sumpool"):
            k = layer["window"]
            spatial = [out_size(n, k, layer.get("stride", k), layer.get("padding", "valid")) for n in spatial]
        elif layer["kind"] in ("gap", "flatten"):
            c, spatial = (c if layer["kind"] == "gap" else c * math.prod(spatial)), []
        elif layer["kind"] == "dense":
            total += layer["width"] * c + (layer["width"] if layer.get("bias", True) else 0)
            c = layer["width"]
    return total


ARCHS = {
    "SameValidConvNet": dict(channels=2, spatial=[5, 5], w_std=1.3, b_std=0.2, standard=False, layers=[
        dict(kind="conv", channels=3, kernel=3, stride=1, padding="same"), dict(kind="relu"),
        dict(kind="conv", channels=2, kernel=3, stride=2, padding="valid"), dict(kind="erf"),
        dict(kind="flatten"), dict(kind="dense", width=2)]),
    "CircularPoolConvNet": dict(channels=1, spatial=[6, 6], w_std=1.1, b_std=0.3, standard=False, layers=[
        dict(kind="conv", channels=3, kernel=3, stride=1, padding="circular"), dict(kind="tanh"),
        dict(kind="avgpool", window=2),
        dict(kind="conv", channels=2, kernel=2, stride=1, padding="same", bias=False), dict(kind="gelu"),
        dict(kind="gap"), dict(kind="dense", width=3)]),
    "SequenceConvNet": dict(channels=2, spatial=[7], w_std=1.2, b_std=0.1, standard=False, layers=[
        dict(kind="conv", channels=3, kernel=3, stride=1, padding="valid"), dict(kind="relu"),
        dict(kind="sumpool", window=2, stride=1),
        dict(kind="conv", channels=2, kernel=2, stride=2, padding="valid"), dict(kind="sin"),
        dict(kind="flatten"), dict(kind="dense", width=2)]),
    "StandardConvNet": dict(channels=1, spatial=[4, 4], w_std=1.4, b_std=0.5, standard=True, layers=[
        dict(kind="conv", channels=2, kernel=3, stride=2, padding="same"), dict(kind="relu"),
        dict(kind="avgpool", window=3, stride=2, padding="same"),
        dict(kind="flatten"), dict(kind="dense", width=1, bias=False)]),
}


def main():
    gen = torch.Generator().manual_seed(0)
    cases = []
    for name, arch in ARCHS.items():
        size = arch["channels"] * math.prod(arch["spatial"])
        theta = torch.randn(count(arch), generator=gen) * (0.5 if arch["standard"] else 1.0)
        x1 = torch.randn(3, size, generator=gen)
        x2 = torch.randn(2, size, generator=gen)
        f = forward(arch, theta, x1)
        j1 = torch.autograd.functional.jacobian(lambda t: forward(arch, t, x1), theta)  # [N1, O, P]
        j2 = torch.autograd.functional.jacobian(lambda t: forward(arch, t, x2), theta)
        ntk = torch.einsum("iap,jbp->ijab", j1, j2)
        cases.append(dict(network=name, arch=arch, theta=theta.tolist(), x1=x1.tolist(), x2=x2.tolist(),
                          forward_x1=f.tolist(), jacobian_x1=j1.tolist(), ntk_full=ntk.tolist()))
    print(json.dumps(dict(generator=f"make_conv_references.py, torch {torch.__version__}, float64", cases=cases)))


if __name__ == "__main__":
    main()
