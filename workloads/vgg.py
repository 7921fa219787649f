"""VGG-16 (Simonyan & Zisserman 2015, configuration D), torchvision's layout without batch
norm: 138,357,544 parameters and about 15.5 GMACs at 224x224."""

from __future__ import annotations

import numpy as np

from framework import Tensor, nn

from .common import Model, image_input, make_model, require

# configuration D: conv widths (multiples of the base width 64), "M" = 2x2 max pool
VGG16_CONFIG = (1, 1, "M", 2, 2, "M", 4, 4, 4, "M", 8, 8, 8, "M", 8, 8, 8, "M")


class VGG(nn.Module):
    """3x3 conv + ReLU stacks with max pools, then three fully connected layers.

    torchvision puts an AdaptiveAvgPool2d(7) before the classifier, which is the identity at
    224x224; for other image sizes this model flattens the final feature map as it is.
    """

    def __init__(self, image: int, width: int, hidden: int, classes: int,
                 rng: np.random.Generator) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for item in VGG16_CONFIG:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                cout = width * int(item)
                layers += [nn.Conv2d(cin, cout, 3, rng=rng, padding=1), nn.ReLU()]
                cin = cout
        self.features = nn.Sequential(*layers)
        side = image // 32
        self.classifier = nn.Sequential(
            nn.Linear(cin * side * side, hidden, rng=rng), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(hidden, hidden, rng=rng), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(hidden, classes, rng=rng))

    def forward(self, image: Tensor) -> Tensor:
        """Class logits."""
        return self.classifier(self.features(image).flatten(1))


def vgg16(batch: int, image: int, width: int, hidden: int, classes: int, dtype: str,
          seed: int) -> Model:
    """VGG-16 at ``image`` x ``image`` (a multiple of 32)."""
    require(image >= 32 and image % 32 == 0, "vgg16",
            f"image must be a multiple of 32, got {image}")
    model = VGG(image, width, hidden, classes, np.random.default_rng(seed))
    return make_model(model, "vgg16", image_input(batch, 3, image, dtype), dtype, ["logits"])


VGG_DEFAULTS = {"image": 224, "width": 64, "hidden": 4096, "classes": 1000}
