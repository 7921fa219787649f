"""MobileNetV2 (Sandler et al. 2018, "Inverted Residuals and Linear Bottlenecks"), torchvision's
layout: 3,504,872 parameters and about 0.30 GMACs at 224x224 and width 1.0."""

from __future__ import annotations

import numpy as np

from framework import Tensor, nn

from .common import Model, image_input, make_model, require

# (expansion t, output channels c, repeats n, first stride s): table 2 of the paper
INVERTED_RESIDUAL_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                             (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def make_divisible(v: float, divisor: int = 8) -> int:
    """Round channels to a multiple of ``divisor``, never below 90 % of ``v`` (torchvision's
    _make_divisible, from the TensorFlow reference implementation)."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


class ConvBNReLU6(nn.Sequential):
    """Conv (no bias), batch norm, ReLU6."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, groups: int,
                 rng: np.random.Generator) -> None:
        super().__init__(nn.Conv2d(cin, cout, kernel, rng=rng, stride=stride,
                                   padding=(kernel - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6())


class InvertedResidual(nn.Module):
    """1x1 expand, 3x3 depthwise, 1x1 linear projection; residual when shapes allow."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int,
                 rng: np.random.Generator) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNReLU6(cin, hidden, 1, 1, 1, rng))
        layers += [ConvBNReLU6(hidden, hidden, 3, stride, hidden, rng),
                   nn.Conv2d(hidden, cout, 1, rng=rng, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)
        self.use_residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        """The block, plus x when it is residual."""
        y = self.conv(x)
        return x + y if self.use_residual else y


class MobileNetV2(nn.Module):
    """Features (stem, 17 inverted residuals, 1x1 conv to 1280), pool, dropout, classifier."""

    def __init__(self, classes: int, width_mult: float, rng: np.random.Generator) -> None:
        super().__init__()
        cin = make_divisible(32 * width_mult)
        last = make_divisible(1280 * max(1.0, width_mult))
        features: list[nn.Module] = [ConvBNReLU6(3, cin, 3, 2, 1, rng)]
        for t, c, n, s in INVERTED_RESIDUAL_SETTING:
            cout = make_divisible(c * width_mult)
            for i in range(n):
                features.append(InvertedResidual(cin, cout, s if i == 0 else 1, t, rng))
                cin = cout
        features.append(ConvBNReLU6(cin, last, 1, 1, 1, rng))
        self.features = nn.Sequential(*features)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, classes, rng=rng))

    def forward(self, image: Tensor) -> Tensor:
        """Class logits."""
        return self.classifier(self.pool(self.features(image)).flatten(1))


def mobilenet_v2(batch: int, image: int, width_mult: float, classes: int, dtype: str,
                 seed: int) -> Model:
    """MobileNetV2 at ``image`` x ``image``."""
    require(image >= 32, "mobilenet_v2", f"image must be >= 32, got {image}")
    require(width_mult > 0, "mobilenet_v2", f"width_mult must be > 0, got {width_mult}")
    model = MobileNetV2(classes, width_mult, np.random.default_rng(seed))
    return make_model(model, "mobilenet_v2", image_input(batch, 3, image, dtype), dtype,
                       ["logits"])


MOBILENET_DEFAULTS = {"image": 224, "width_mult": 1.0, "classes": 1000}
