#!/usr/bin/env python3
"""An independent VideoMamba oracle: the video classifier of SPEC-videomamba §2.2-2.4 written
from the specification's mathematics with plain PyTorch ops and a sequential selective scan.

  check FIXTURE_DIR   run the oracle on a reference fixture's weights and input and compare with
                      its expected tensors (validates the oracle against the upstream model)
  make OUT_DIR        write a fixture of unseen sizes (random weights with upstream names, input,
                      expected computed in float64, config.json in the reference schema)

Needs only torch and numpy (the project's .venv); safetensors files are read and written here.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

MODEL_CLASS = "videomamba.VisionMamba (videomamba/video_sm/models/videomamba.py)"
DTYPES = {"F32": (np.float32, torch.float32), "F64": (np.float64, torch.float64)}


# ---- safetensors (8-byte little-endian header size, JSON header, raw little-endian data) -------
def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        np_dtype, _ = DTYPES[info["dtype"]]
        data = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype=np_dtype)
        out[name] = torch.from_numpy(data.copy()).reshape(info["shape"])
    return out


def write_safetensors(path, tensors):
    header, blobs, at = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().to(torch.float32)
        b = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# ---- the model ----------------------------------------------------------------------------------
class Sizes:
    """Constructor arguments (reference names) and what follows from them."""

    def __init__(self, ctor):
        ssm = ctor.get("ssm_cfg") or {}
        self.img = ctor.get("img_size", 224)
        self.patch = ctor.get("patch_size", 16)
        self.depth = ctor.get("depth", 24)
        self.dim = ctor.get("embed_dim", 192)
        self.chans = ctor.get("channels", 3)
        self.classes = ctor.get("num_classes", 1000)
        self.eps = ctor.get("norm_epsilon", 1e-5)
        self.tubelet = ctor.get("kernel_size", 1)
        self.frames = ctor.get("num_frames", 8)
        self.d_state = ssm.get("d_state", 16)
        self.d_conv = ssm.get("d_conv", 4)
        self.expand = ssm.get("expand", 2)
        self.inner = self.expand * self.dim
        self.rank = math.ceil(self.dim / 16)
        self.grid = (self.frames // self.tubelet, self.img // self.patch, self.img // self.patch)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def scan(u, delta, A, Bm, Cm, D, z, delta_bias):
    """h_t = exp(dt_t A) h_{t-1} + dt_t B_t u_t; y_t = C_t.h_t + D u_t; out = y SiLU(z)."""
    dt = F.softplus(delta + delta_bias[None, :, None])  # threshold 20 as torch's default
    b, e, length = u.shape
    h = u.new_zeros(b, e, A.shape[1])
    ys = []
    for t in range(length):
        d = dt[:, :, t, None]
        h = torch.exp(d * A) * h + d * Bm[:, None, :, t] * u[:, :, t, None]
        ys.append((h * Cm[:, None, :, t]).sum(-1))
    y = torch.stack(ys, -1) + D[None, :, None] * u
    return y * F.silu(z)


def mixer_direction(xz, w, pre, s, sfx):
    """One scan direction on channels-first xz (B, 2E, L) with the parameters named by sfx."""
    e, length = s.inner, xz.shape[-1]
    x, z = xz[:, :e], xz[:, e:]
    conv = "conv1d" + sfx
    x = F.conv1d(x, w[pre + conv + ".weight"], w[pre + conv + ".bias"], padding=s.d_conv - 1,
                 groups=e)[..., :length]
    u = F.silu(x)
    proj = u.transpose(1, 2) @ w[pre + "x_proj" + sfx + ".weight"].T  # (B, L, R + 2N)
    r, n = s.rank, s.d_state
    delta = (proj[..., :r] @ w[pre + "dt_proj" + sfx + ".weight"].T).transpose(1, 2)
    Bm, Cm = proj[..., r:r + n].transpose(1, 2), proj[..., r + n:].transpose(1, 2)
    a_log = w[pre + ("A_b_log" if sfx else "A_log")]
    return scan(u, delta, -torch.exp(a_log), Bm, Cm, w[pre + "D" + sfx], z,
                w[pre + "dt_proj" + sfx + ".bias"])


def mixer(hidden, w, pre, s):
    xz = (hidden @ w[pre + "in_proj.weight"].T).transpose(1, 2)
    y = mixer_direction(xz, w, pre, s, "") + mixer_direction(xz.flip(-1), w, pre, s, "_b").flip(-1)
    return y.transpose(1, 2) @ w[pre + "out_proj.weight"].T


def forward(w, video, s):
    """Returns the expected-tensor dictionary of the fixture schema."""
    out = {}
    x = F.conv3d(video, w["patch_embed.proj.weight"], w["patch_embed.proj.bias"],
                 stride=(s.tubelet, s.patch, s.patch))
    out["patch_embed_out"] = x
    b, c, t, hh, ww = x.shape
    tokens = x.permute(0, 2, 3, 4, 1).reshape(b, t, hh * ww, c)
    pos = w["pos_embed"][0]  # (1 + HW, C): the same spatial table in every frame
    cls = w["cls_token"][0, 0] + pos[0]  # the cls token gets no temporal position
    tokens = tokens + pos[None, None, 1:] + w["temporal_pos_embedding"][0][None, :, None]
    seq = torch.cat([cls.expand(b, 1, c), tokens.reshape(b, t * hh * ww, c)], 1)
    out["layers_in"] = seq
    hidden, residual = seq, None
    for i in range(s.depth):
        pre = "layers.%d." % i
        residual = hidden if residual is None else residual + hidden
        hidden = mixer(rms_norm(residual, w[pre + "norm.weight"], s.eps), w, pre + "mixer.", s)
        out["layer%d_hidden" % i] = hidden
        out["layer%d_residual" % i] = residual
    final = hidden if residual is None else residual + hidden
    features = rms_norm(final, w["norm_f.weight"], s.eps)[:, 0]
    out["features"] = features
    out["logits"] = features @ w["head.weight"].T + w["head.bias"]
    return out


# ---- commands -----------------------------------------------------------------------------------
def check(fixture, tol):
    with open(os.path.join(fixture, "config.json")) as f:
        cfg = json.load(f)
    if cfg["model_class"] != MODEL_CLASS:
        sys.exit("not a VideoMamba fixture: %s" % cfg["model_class"])
    s = Sizes(cfg["constructor"])
    w = read_safetensors(os.path.join(fixture, "weights.safetensors"))
    video = read_safetensors(os.path.join(fixture, "input.safetensors"))["video"]
    expected = read_safetensors(os.path.join(fixture, "expected.safetensors"))
    with torch.no_grad():
        ours = forward(w, video, s)  # float32, as the reference ran
    worst = 0.0
    for name, e in expected.items():
        if name not in ours:
            sys.exit("oracle: no tensor %s" % name)
        diff = (ours[name].double() - e.double()).abs().max().item()
        bound = tol * max(1.0, e.abs().max().item())
        print("  %-18s max_abs %.3e  %s" % (name, diff, "ok" if diff <= bound else "FAIL"))
        if diff > bound:
            sys.exit("oracle disagrees with %s on %s" % (fixture, name))
        worst = max(worst, diff)
    print("oracle reproduces %s (%d tensors, worst max_abs %.3e)" % (fixture, len(expected), worst))


def make(out_dir, a):
    ctor = {"img_size": a.img, "patch_size": a.patch, "depth": a.depth, "embed_dim": a.dim,
            "channels": 3, "num_classes": a.classes, "drop_rate": 0.0, "drop_path_rate": 0.1,
            "ssm_cfg": {"d_state": a.d_state, "d_conv": a.d_conv, "expand": a.expand},
            "norm_epsilon": 1e-5, "initializer_cfg": None, "fused_add_norm": True,
            "rms_norm": True, "residual_in_fp32": True, "bimamba": True, "kernel_size": a.tubelet,
            "num_frames": a.frames, "fc_drop_rate": 0.0, "use_checkpoint": False,
            "checkpoint_num": 0}
    s = Sizes(ctor)
    g = torch.Generator().manual_seed(a.seed)

    def rnd(*shape, std=1.0, mean=0.0):
        return torch.randn(*shape, generator=g) * std + mean

    d, e, n, k, r = s.dim, s.inner, s.d_state, s.d_conv, s.rank
    w = {"patch_embed.proj.weight": rnd(d, 3, s.tubelet, s.patch, s.patch,
                                        std=(3 * s.tubelet * s.patch ** 2) ** -0.5),
         "patch_embed.proj.bias": rnd(d, std=0.05),
         "cls_token": rnd(1, 1, d, std=0.5),
         "pos_embed": rnd(1, 1 + s.grid[1] * s.grid[2], d, std=0.5),
         "temporal_pos_embedding": rnd(1, s.grid[0], d, std=0.5)}
    for i in range(s.depth):
        p = "layers.%d.mixer." % i
        w[p + "in_proj.weight"] = rnd(2 * e, d, std=d ** -0.5)
        for sfx in ("", "_b"):
            w[p + "conv1d" + sfx + ".weight"] = rnd(e, 1, k, std=k ** -0.5)
            w[p + "conv1d" + sfx + ".bias"] = rnd(e, std=0.05)
            w[p + "x_proj" + sfx + ".weight"] = rnd(r + 2 * n, e, std=e ** -0.5)
            w[p + "dt_proj" + sfx + ".weight"] = rnd(e, r, std=r ** -0.5)
            w[p + "dt_proj" + sfx + ".bias"] = rnd(e, std=0.5, mean=-1.0)
            w[p + ("A_b_log" if sfx else "A_log")] = (
                torch.log(torch.arange(1, n + 1.0)).expand(e, n) + rnd(e, n, std=0.3))
            w[p + "D" + sfx] = rnd(e, std=0.05, mean=1.0)
        w[p + "out_proj.weight"] = rnd(d, e, std=e ** -0.5)
        w["layers.%d.norm.weight" % i] = rnd(d, std=0.1, mean=1.0)
    w["norm_f.weight"] = rnd(d, std=0.1, mean=1.0)
    w["head.weight"] = rnd(s.classes, d, std=d ** -0.5)
    w["head.bias"] = rnd(s.classes, std=0.05)
    video = rnd(a.batch, 3, s.frames, s.img, s.img)
    with torch.no_grad():  # expected in float64 from the float32 values that are stored
        w32 = {name: t.float() for name, t in w.items()}
        expected = forward({name: t.double() for name, t in w32.items()}, video.float().double(), s)
    os.makedirs(out_dir, exist_ok=True)
    write_safetensors(os.path.join(out_dir, "weights.safetensors"), w32)
    write_safetensors(os.path.join(out_dir, "input.safetensors"), {"video": video})
    write_safetensors(os.path.join(out_dir, "expected.safetensors"), expected)
    config = {"set": os.path.basename(os.path.normpath(out_dir)), "variant": "oracle",
              "model_class": MODEL_CLASS, "constructor": ctor,
              "derived": {"seq_len": 1 + s.grid[0] * s.grid[1] * s.grid[2], "d_inner": e,
                          "dt_rank": r, "d_state": n, "d_conv": k, "expand": s.expand},
              "fixture": {"batch": a.batch, "seed": a.seed,
                          "generator": "tests/parity/videomamba_oracle.py (float64 expected)"}}
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    print("wrote %s: L = %d, %d layers, %d expected tensors" %
          (out_dir, config["derived"]["seq_len"], s.depth, len(expected)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("fixture")
    c.add_argument("--tol", type=float, default=1e-5, help="scaled by max(1, max|expected|)")
    m = sub.add_parser("make")
    m.add_argument("out_dir")
    for name, v in (("img", 64), ("patch", 16), ("depth", 3), ("dim", 48), ("frames", 8),
                    ("tubelet", 2), ("d_state", 8), ("d_conv", 3), ("expand", 2),
                    ("classes", 5), ("batch", 2), ("seed", 20240607)):
        m.add_argument("--" + name, type=int, default=v)
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.cmd == "check":
        check(a.fixture, a.tol)
    else:
        make(a.out_dir, a)


if __name__ == "__main__":
    main()
