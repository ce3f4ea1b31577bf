"""The PyTorch network of the `mnist-pytorch` model: a small CNN for 28×28 digits (used by training and serving)."""

import torch
from torch import nn

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


class DigitCNN(nn.Module):
    """Two conv blocks (conv, batch norm, ReLU, max-pool) and a small classifier; takes (N, 1, 28, 28) pixels in 0..1, returns (N, 10) logits.

    Normalisation with the MNIST mean and std happens inside `forward`, so callers pass raw 0..1 pixels.
    """

    def __init__(self, width: int = 24, dropout: float = 0.3):
        super().__init__()

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            )

        self.features = nn.Sequential(block(1, width), block(width, 2 * width))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * width * 7 * 7, 128), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(128, 10),
        )

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features((pixels - MNIST_MEAN) / MNIST_STD))
