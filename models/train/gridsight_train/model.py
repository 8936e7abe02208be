"""street-v1 network: a small anchor-free single-stage detector (gridsight's own design).

The architecture is written ONCE, in `forward(F, x)`, against a tiny "ops" interface `F`.
Three back ends implement that interface:

* `InitOps`  - walks the graph and creates parameters (He init, BN gamma=1/beta=0),
* `JaxOps`   - the training / evaluation computation in JAX (NHWC, BN with batch statistics),
* `export.OnnxOps` - emits the same graph as ONNX nodes (NCHW, BN folded into the convs).

so the exported ONNX graph cannot drift from what was trained.

Layout
------
backbone  stem conv3x3/2 (16) -> DS/2 (32) -> DS/2 (64, x2 res)  = C3 stride 8
                                 -> DS/2 (128, x3 res) = C4 stride 16
                                 -> DS/2 (256, x2 res) = C5 stride 32
          "DS" = depthwise 3x3 + BN + SiLU, pointwise 1x1 + BN + SiLU; "res" = residual DS block.
neck      PAN: 1x1 laterals to `neck` channels, top-down (nearest 2x upsample + add + DS),
          bottom-up (depthwise stride-2 DS + add + DS).
heads     per level: DS (neck ch) -> DS -> 1x1 conv to 4 box values + 1x1 conv to 3 class logits.
          Objectness is folded into the class scores (sigmoid, trained with soft IoU-aware targets).
          Box = distances (left, top, right, bottom) from the cell centre: softplus(raw) * stride.
"""
from __future__ import annotations

import math

import numpy as np

STRIDES = (8, 16, 32)
NUM_CLASSES = 3
BN_EPS = 1e-3
CLS_PRIOR = 0.01

DEFAULT_ARCH = {
    "stem": 32,                     # 4x4 space-to-depth (48 ch) -> 1x1 conv, stride 4
    "widths": (64, 128, 192),       # stride 8, 16, 32
    "depths": (2, 2, 2),            # residual blocks per stage
    "neck": 64,
}


def arch_of(width=1.0):
    """DEFAULT_ARCH with every channel count (stem, stages, neck) times `width`, rounded to a
    multiple of 8. `width` 1.0 is the shipped network."""
    if width <= 0:
        raise ValueError(f"width must be positive, not {width}")
    ch = lambda c: max(8, int(round(c * width / 8)) * 8)
    return {
        "stem": ch(DEFAULT_ARCH["stem"]),
        "widths": tuple(ch(c) for c in DEFAULT_ARCH["widths"]),
        "depths": DEFAULT_ARCH["depths"],
        "neck": ch(DEFAULT_ARCH["neck"]),
    }


def ds(F, name, x, cin, cout, stride=1):
    """depthwise-separable conv: dw3x3(stride) -> BN -> SiLU -> pw1x1 -> BN -> SiLU"""
    y = F.conv(name + ".dw", x, cin, cin, 3, stride, groups=cin)
    return F.conv(name + ".pw", y, cin, cout, 1, 1)


def bottleneck(F, name, x, c):
    """full-conv residual bottleneck (used at stride 8, where XLA-CPU depthwise convs are memory bound)"""
    y = F.conv(name + ".a", x, c, c // 2, 1, 1)
    return F.add(x, F.conv(name + ".b", y, c // 2, c, 3, 1))


def res(F, name, x, c):
    return F.add(x, ds(F, name, x, c, c))


def forward(F, x, arch=DEFAULT_ARCH):
    """Returns [(box_raw, cls_logit)] for strides 8, 16, 32."""
    st, (w3, w4, w5), (d3, d4, d5), n = arch["stem"], arch["widths"], arch["depths"], arch["neck"]
    x = F.s2d4(x)                                   # [B, H/4, W/4, 48]
    x = F.conv("stem", x, 48, st, 1, 1)
    x = F.conv("s3.down", x, st, w3, 3, 2)          # stride 8
    for i in range(d3):
        x = bottleneck(F, f"s3.b{i}", x, w3)
    c3 = x
    x = F.conv("s4.down", x, w3, w4, 3, 2)          # stride 16
    for i in range(d4):
        x = res(F, f"s4.b{i}", x, w4)
    c4 = x
    x = ds(F, "s5.down", x, w4, w5, 2)              # stride 32
    for i in range(d5):
        x = res(F, f"s5.b{i}", x, w5)
    c5 = x

    l5 = F.conv("lat5", c5, w5, n, 1, 1)
    l4 = F.conv("lat4", c4, w4, n, 1, 1)
    l3 = F.conv("lat3", c3, w3, n, 1, 1)
    t4 = ds(F, "td4", F.add(l4, F.up2(l5)), n, n)
    t3 = F.conv("td3", F.add(l3, F.up2(t4)), n, n, 3, 1)
    b4 = ds(F, "bu4", F.add(t4, ds(F, "bu4.down", t3, n, n, 2)), n, n)
    b5 = ds(F, "bu5", F.add(l5, ds(F, "bu5.down", b4, n, n, 2)), n, n)

    outs = []
    for lvl, feat in zip((3, 4, 5), (t3, b4, b5)):
        if lvl == 3:
            h = F.conv(f"head{lvl}.a", feat, n, n, 3, 1)
        else:
            h = ds(F, f"head{lvl}.a", feat, n, n)
            h = ds(F, f"head{lvl}.b", h, n, n)
        box = F.head(f"head{lvl}.box", h, n, 4, bias_init=0.0)
        cls = F.head(f"head{lvl}.cls", h, n, NUM_CLASSES, bias_init=-math.log((1 - CLS_PRIOR) / CLS_PRIOR))
        outs.append((box, cls))
    return outs


# ----------------------------------------------------------------------------- init


class InitOps:
    """Creates parameters. `x` is ignored (channel counts are passed explicitly)."""

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)
        self.params = {}
        self.state = {}

    def conv(self, name, x, cin, cout, k, s, groups=1):
        fan_in = k * k * cin // groups
        w = self.rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(k, k, cin // groups, cout)).astype(np.float32)
        self.params[name] = {"w": w, "g": np.ones(cout, np.float32), "b": np.zeros(cout, np.float32)}
        self.state[name] = {"m": np.zeros(cout, np.float32), "v": np.ones(cout, np.float32)}
        return x

    def head(self, name, x, cin, cout, bias_init=0.0):
        w = self.rng.normal(0.0, 0.01, size=(1, 1, cin, cout)).astype(np.float32)
        self.params[name] = {"w": w, "bias": np.full(cout, bias_init, np.float32)}
        return x

    def add(self, a, b):
        return a

    def up2(self, x):
        return x

    def s2d4(self, x):
        return x


def init_model(seed=0, arch=DEFAULT_ARCH):
    ops = InitOps(seed)
    forward(ops, None, arch)
    return ops.params, ops.state


def count_params(params):
    return int(sum(int(np.prod(v.shape)) for p in params.values() for v in p.values()))


# ----------------------------------------------------------------------------- JAX


class JaxOps:
    def __init__(self, params, state, train, bn_momentum=0.03):
        import jax.numpy as jnp
        from jax import lax

        self.jnp, self.lax = jnp, lax
        self.params, self.state, self.train, self.mom = params, state, train, bn_momentum
        self.new_state = {}

    def conv(self, name, x, cin, cout, k, s, groups=1):
        jnp, lax = self.jnp, self.lax
        p = self.params[name]
        y = lax.conv_general_dilated(
            x, p["w"], (s, s), [(k // 2, k // 2)] * 2,
            dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=groups)
        st = self.state[name]
        if self.train:
            mean = jnp.mean(y, axis=(0, 1, 2))
            var = jnp.mean(jnp.square(y - mean), axis=(0, 1, 2))
            self.new_state[name] = {
                "m": (1 - self.mom) * st["m"] + self.mom * lax.stop_gradient(mean),
                "v": (1 - self.mom) * st["v"] + self.mom * lax.stop_gradient(var),
            }
        else:
            mean, var = st["m"], st["v"]
        y = (y - mean) * (p["g"] * lax.rsqrt(var + BN_EPS)) + p["b"]
        return y * _sigmoid(jnp, y)

    def head(self, name, x, cin, cout, bias_init=0.0):
        p = self.params[name]
        return self.jnp.einsum("bhwc,cd->bhwd", x, p["w"][0, 0]) + p["bias"]

    def add(self, a, b):
        return a + b

    def up2(self, x):
        return self.jnp.repeat(self.jnp.repeat(x, 2, axis=1), 2, axis=2)

    def s2d4(self, x):
        # same channel order as ONNX SpaceToDepth: c_out = (by * 4 + bx) * C + c
        B, H, W, C = x.shape
        x = x.reshape(B, H // 4, 4, W // 4, 4, C).transpose(0, 1, 3, 2, 4, 5)
        return x.reshape(B, H // 4, W // 4, 16 * C)


def _sigmoid(jnp, x):
    import jax

    return jax.nn.sigmoid(x)


def anchors_for(size):
    """Anchor points (cell centres, input pixels) and strides, in output order (P3, P4, P5; row-major).

    `size` is the square side or (width, height)."""
    w, h = (size, size) if isinstance(size, int) else size
    pts, strides = [], []
    for s in STRIDES:
        gw, gh = w // s, h // s
        ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        pts.append(np.stack([(xs.ravel() + 0.5) * s, (ys.ravel() + 0.5) * s], 1))
        strides.append(np.full(gw * gh, s, np.float32))
    return np.concatenate(pts).astype(np.float32), np.concatenate(strides).astype(np.float32)


def apply(params, state, images, train, arch=DEFAULT_ARCH):
    """images: [B, H, W, 3] float32 in 0..1 (RGB).

    Returns (ltrb [B, N, 4] in pixels, cls_logits [B, N, C], new_state)."""
    import jax
    import jax.numpy as jnp

    ops = JaxOps(params, state, train)
    outs = forward(ops, images, arch)
    B = images.shape[0]
    boxes, logits, strides = [], [], []
    for (box, cls), s in zip(outs, STRIDES):
        boxes.append(box.reshape(B, -1, 4))
        logits.append(cls.reshape(B, -1, NUM_CLASSES))
        strides.append(jnp.full((box.shape[1] * box.shape[2],), float(s), jnp.float32))
    stride = jnp.concatenate(strides)
    ltrb = jax.nn.softplus(jnp.concatenate(boxes, 1)) * stride[None, :, None]
    new_state = ops.new_state if train else state
    return ltrb, jnp.concatenate(logits, 1), new_state
