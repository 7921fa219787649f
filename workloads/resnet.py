"""ResNet-18 and ResNet-50 (He et al. 2016, "Deep Residual Learning"), torchvision's layout
(v1.5: the stride of a bottleneck is on its 3x3 conv), so parameter names and counts match
torchvision: 11,689,512 (ResNet-18) and 25,557,032 (ResNet-50) at 1000 classes."""

from __future__ import annotations

import numpy as np

from framework import Tensor, nn

from .common import Model, image_input, make_model, require


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, rng=rng, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, rng=rng, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _downsample(cin, planes, stride, rng)

    def forward(self, x: Tensor) -> Tensor:
        """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand by 4, with a residual connection (ResNet-50)."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, rng=rng, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, rng=rng, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, rng=rng, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU()
        self.downsample = _downsample(cin, planes * 4, stride, rng)

    def forward(self, x: Tensor) -> Tensor:
        """The bottleneck plus shortcut, then ReLU."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


def _downsample(cin: int, cout: int, stride: int, rng: np.random.Generator) -> nn.Module | None:
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 1, rng=rng, stride=stride, bias=False),
                         nn.BatchNorm2d(cout))


class ResNet(nn.Module):
    """Stem (7x7/2 conv, 3x3/2 max pool), four stages, global average pool, classifier."""

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: tuple[int, ...],
                 classes: int, width: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, rng=rng, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin = width
        stages = []
        for i, blocks in enumerate(layers):
            planes = width * 2 ** i
            stage = nn.Sequential()
            for j in range(blocks):
                stage.append(block(cin, planes, 2 if i > 0 and j == 0 else 1, rng))
                cin = planes * block.expansion
            stages.append(stage)
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes, rng=rng)

    def forward(self, image: Tensor) -> Tensor:
        """Class logits (N, classes)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(image))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _build(name: str, block: type[BasicBlock] | type[Bottleneck], layers: tuple[int, ...],
           batch: int, image: int, width: int, classes: int, dtype: str, seed: int) -> Model:
    require(image >= 32, name, f"image must be >= 32 (five stride-2 stages), got {image}")
    require(width >= 1 and classes >= 1, name, "width and classes must be >= 1")
    model = ResNet(block, layers, classes, width, np.random.default_rng(seed))
    return make_model(model, name, image_input(batch, 3, image, dtype), dtype, ["logits"])


def resnet18(batch: int, image: int, width: int, classes: int, dtype: str, seed: int) -> Model:
    """ResNet-18: BasicBlocks (2, 2, 2, 2)."""
    return _build("resnet18", BasicBlock, (2, 2, 2, 2), batch, image, width, classes, dtype, seed)


def resnet50(batch: int, image: int, width: int, classes: int, dtype: str, seed: int) -> Model:
    """ResNet-50: Bottlenecks (3, 4, 6, 3)."""
    return _build("resnet50", Bottleneck, (3, 4, 6, 3), batch, image, width, classes, dtype, seed)


RESNET_DEFAULTS = {"image": 224, "width": 64, "classes": 1000}
