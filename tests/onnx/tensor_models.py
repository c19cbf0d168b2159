"""Small torch modules written with the tensor operators (docs/graph-format.md 2e), for
test_import.py: each exports to ONNX ops that import converts (docs/onnx.md, Import)."""
import math

import torch
from torch import nn


class MobileBlock(nn.Module):  # MobileNetV3: HardSwish, SE gate (HardSigmoid), ReLU6 as Clip, residual Add
    def __init__(self, c=8):
        super().__init__()
        self.expand, self.act = nn.Conv2d(c, 16, 1), nn.Hardswish()
        self.dw, self.relu6 = nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.ReLU6()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.se1, self.se2, self.gate = nn.Conv2d(16, 4, 1), nn.Conv2d(4, 16, 1), nn.Hardsigmoid()
        self.project = nn.Conv2d(16, c, 1)

    def forward(self, x):
        h = self.relu6(self.dw(self.act(self.expand(x))))
        h = h * self.gate(self.se2(torch.relu(self.se1(self.pool(h)))))
        return x + self.project(h)


class EfficientSilu(nn.Module):  # x * sigmoid(x) written out, and nn.SiLU
    def __init__(self):
        super().__init__()
        self.conv, self.silu = nn.Conv2d(3, 6, 3, padding=1), nn.SiLU()

    def forward(self, x):
        h = self.conv(x)
        return self.silu(h * torch.sigmoid(h))


class ChannelShuffle(nn.Module):  # ShuffleNet: Reshape, Transpose, Reshape
    def __init__(self, groups=2):
        super().__init__()
        self.conv, self.groups = nn.Conv2d(4, 8, 1), groups

    def forward(self, x):
        h = self.conv(x)  # [B, 8, 3, 3]; sizes written out: h.shape would export Shape nodes
        h = h.view(-1, self.groups, 8 // self.groups, 3, 3).transpose(1, 2)
        return h.reshape(-1, 8, 3, 3)


class DenseConcat(nn.Module):  # DenseNet / GoogLeNet: branches concatenated on channels
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 2, 3, padding=1)
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)

    def forward(self, x):
        h = torch.cat([x, torch.relu(self.a(x)), self.b(x), self.pool(x)], dim=1)
        return torch.cat([h, h[:, :2]], 1)


class ConvNextBlock(nn.Module):  # depthwise conv, channels-last LayerNorm, Linear, GELU, layer scale
    def __init__(self, c=8):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.pw1, self.act, self.pw2 = nn.Linear(c, 4 * c), nn.GELU(), nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.rand(c) + 0.5)

    def forward(self, x):
        h = self.dw(x).permute(0, 2, 3, 1)
        h = self.gamma * self.pw2(self.act(self.pw1(self.norm(h))))
        return x + h.permute(0, 3, 1, 2)


class BatchNormMlp(nn.Module):  # BatchNorm1d on [B, C] and [B, C, L], BN after ReLU in 2-D, Dropout
    def __init__(self):
        super().__init__()
        self.conv, self.bn2 = nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4)
        self.conv1, self.bn1d = nn.Conv1d(4, 3, 1), nn.BatchNorm1d(3)
        self.fc, self.bn, self.drop, self.out = nn.Linear(3 * 16, 10), nn.BatchNorm1d(10), nn.Dropout(0.3), nn.Linear(10, 3)
        for bn in (self.bn2, self.bn1d, self.bn):  # running statistics other than 0 and 1
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-0.5, 0.5)

    def forward(self, x):
        h = self.bn2(torch.relu(self.conv(x))).view(-1, 4, 16)
        h = self.bn1d(self.conv1(h)).flatten(1)
        return self.out(self.drop(torch.relu(self.bn(self.fc(h)))))


class TinyVit(nn.Module):  # class token, position table, attention with matmul and softmax, x[:, 0]
    def __init__(self, d=8, patches=4):
        super().__init__()
        self.embed = nn.Linear(6, d)
        self.cls = nn.Parameter(torch.randn(1, 1, d))
        self.pos = nn.Parameter(torch.randn(1, patches + 1, d) * 0.1)
        self.norm, self.qkv, self.proj = nn.LayerNorm(d), nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.head, self.d = nn.Linear(d, 3), d

    def forward(self, x):
        h = self.embed(x)
        h = torch.cat([self.cls.expand(x.shape[0], -1, -1), h], dim=1) + self.pos
        q, k, v = self.qkv(self.norm(h)).split(self.d, dim=-1)
        attention = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.d), dim=-1)
        h = h + self.proj(attention @ v)
        return self.head(h[:, 0])


class Elementwise(nn.Module):  # constants on either side, broadcasting, unary math, Pow, Max/Min
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.rand(4, 1) + 0.5)

    def forward(self, x):
        a = (2.0 - x) * 0.5 / 3.0 + torch.exp(-x.abs()) + torch.sqrt(x * x + 1.0)
        b = torch.log(x.abs() + 1.0) - torch.reciprocal(x.abs() + 2.0) + torch.erf(x) + x.pow(2)
        c = torch.maximum(a, b) * self.scale + torch.minimum(a, torch.tensor(0.3))
        d = nn.functional.elu(c, 0.7) + nn.functional.selu(c) + nn.functional.celu(c, 1.3) + nn.functional.softplus(c)
        d = d + nn.functional.mish(c) + torch.sin(x) - torch.cos(-x)  # Mish exports as Softplus, Tanh, Mul
        return torch.clamp(d, -1.0, 4.0) + torch.clamp(c, min=0.2) + nn.functional.hardsigmoid(c) + x.mean(-1, keepdim=True)


class ShapeOps(nn.Module):  # Split, Slice, Squeeze/Unsqueeze, reductions, LogSoftmax over axis 1
    def forward(self, x):  # x [B, 6, 5]  (torch writes F.pad's pads as a computation: see test_import's Pad)
        a, b, c = x.split([1, 2, 3], dim=1)
        h = torch.cat([a, b[:, 1:, ::2], torch.softmax(b, 1)[:, :1]], dim=-1)  # [B, 1, 13]
        s = x[:, 1:5, -4:-1] + x[:, :-2, 1:4]   # [B, 4, 3]
        r = c.sum(dim=2, keepdim=True) * c.amax(dim=1).unsqueeze(1) + c.mean(dim=(1, 2), keepdim=True)
        t = torch.log_softmax(s, dim=1).unsqueeze(2).squeeze(2) + r[:, :, :3].mean(1, keepdim=True)
        return torch.cat([h.flatten(1), t.flatten(1), r.flatten(1)], dim=1)


# name, model, sample shape, relative tolerance (deep models) or None for 1e-5 absolute
MODELS = [
    ("mobilenet_block", MobileBlock, [8, 6, 6]),
    ("efficientnet_silu", EfficientSilu, [3, 5, 5]),
    ("shufflenet_shuffle", ChannelShuffle, [4, 3, 3]),
    ("densenet_concat", DenseConcat, [3, 4, 4]),
    ("convnext_block", ConvNextBlock, [8, 7, 7]),
    ("batchnorm_mlp", BatchNormMlp, [2, 6, 6]),
    ("vit_tiny", TinyVit, [4, 6]),
    ("elementwise", Elementwise, [4, 5]),
    ("shape_ops", ShapeOps, [6, 5]),
]
