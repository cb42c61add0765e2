"""SimpleNet is sized from the linked input shape and number of classes."""

import pytest
import torch

from models import SimpleNet


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_output_has_one_logit_per_class(shape):
    net = SimpleNet(input_shape=shape, num_classes=7)
    assert net(torch.zeros(4, *shape)).shape == (4, 7)


def test_is_a_plain_module():
    from lightning.pytorch import LightningModule

    assert not isinstance(SimpleNet(), LightningModule)
