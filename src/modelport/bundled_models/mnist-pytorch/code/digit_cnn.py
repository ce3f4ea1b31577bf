"""The PyTorch network of the `mnist-pytorch` model: a small CNN for 28×28 digits (used by training and serving).

`DigitCNN` is the network training fits; `for_inference` turns a trained one into the graphs serving runs
on a CPU (the same probabilities, several times less work per digit in a batch).
"""

import warnings

import torch
from torch import nn

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


def normalised(pixels: torch.Tensor) -> torch.Tensor:
    """Raw 0..1 pixels scaled by the MNIST mean and std, as the network's first layer expects them."""
    return (pixels - MNIST_MEAN) / MNIST_STD


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
        return self.classifier(self.features(normalised(pixels)))


# From this many digits in one forward pass, the oneDNN graph is faster than the plain frozen one: it
# reorders every input into its blocked layout, a fixed cost that only pays off over several digits.
ONEDNN_FROM_BATCH = 2


class PairMax(nn.Module):
    """`nn.MaxPool2d(2)` on even heights and widths, as two element-wise maxima of strided views.

    The same numbers as the pool; on one digit and one thread it takes 5 µs where the pool's kernel (which
    also computes the indices training needs) takes 50."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = torch.maximum(x[:, :, 0::2], x[:, :, 1::2])
        return torch.maximum(rows[:, :, :, 0::2], rows[:, :, :, 1::2])


class PoolBeforeReLU(nn.Module):
    """A trained DigitCNN's layers rearranged for serving: each block pools before its ReLU (the same answer,
    since ReLU keeps order, on a quarter of the values), with `pool()` as its pool (default the trained one).
    Shares the weights."""

    def __init__(self, model: DigitCNN, pool=None):
        super().__init__()
        layers = []
        for conv, norm, relu, trained_pool in model.features:
            layers += [conv, norm, pool() if pool else trained_pool, relu]
        self.features = nn.Sequential(*layers)
        self.classifier = model.classifier

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(normalised(pixels)))


def single_digit_cnn(model: DigitCNN) -> PoolBeforeReLU:
    """The rearrangement for one digit at a time: each block pools with `PairMax`, before its ReLU."""
    return PoolBeforeReLU(model, pool=PairMax)


class InferenceCNN(nn.Module):
    """A trained DigitCNN compiled for CPU serving: TorchScript, frozen (batch norm folded into the
    convolutions), run as a oneDNN graph for batches of `ONEDNN_FROM_BATCH` digits or more and as the frozen
    `single_digit_cnn` for a single digit; both pool before the ReLU. Takes and returns what DigitCNN does."""

    device = torch.device("cpu")  # frozen graphs have no parameters to ask

    def __init__(self, model: DigitCNN):
        super().__init__()
        example = torch.zeros(1, 1, 28, 28)
        # torch 2.13 marks TorchScript deprecated in favour of torch.compile, which needs a C++ compiler and
        # compiles again for each new batch size; the archive pins torch, so these calls stay as they are.
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            model = model.eval()
            self.single = torch.jit.freeze(torch.jit.trace(single_digit_cnn(model).eval(), example))
            # oneDNN's own pool is fast on its blocked layout, so the batched graph keeps it; the ReLU after the
            # pool (oneDNN does not fuse it into the convolution here) saves ~2.5 % of a batch of 16
            self.batched = torch.jit.optimize_for_inference(
                torch.jit.freeze(torch.jit.trace(PoolBeforeReLU(model).eval(), example)))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return (self.batched if len(pixels) >= ONEDNN_FROM_BATCH else self.single)(pixels)


def for_inference(model: DigitCNN) -> nn.Module:
    """`model` ready to serve: an `InferenceCNN` on the CPU; on a GPU, the model itself in eval mode."""
    model = model.eval()
    if next(model.parameters()).device.type != "cpu":
        return model
    return InferenceCNN(model)
