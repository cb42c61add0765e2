"""runforge.optim.parameter_groups: no weight decay for biases, norms, embeddings (by type)."""

import pytest
import torch
from torch import nn

from runforge.optim import NoWeightDecay, parameter_groups
from runforge.tasks import ImageClassifier


class Mixed(nn.Module):
    """Conv+BatchNorm, Linear+LayerNorm, an embedding, biases and a confusingly named conv."""

    def __init__(self) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(4)  # a norm whose name does not say "norm"
        self.conv = nn.Conv2d(1, 4, 3)  # weight + bias
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(4, 4, 1, bias=False)  # "embed" in the name, a conv
        self.tokens = nn.Embedding(10, 4)
        self.bag = nn.EmbeddingBag(10, 4)
        self.head = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.GroupNorm(2, 4))
        self.rms = nn.RMSNorm(4)
        self.inorm = nn.InstanceNorm1d(4, affine=True)
        self.lrn = nn.LocalResponseNorm(2)  # no parameters
        self.attn = nn.MultiheadAttention(4, 2)  # in_proj_bias, out_proj.bias
        self.pos_embed = nn.Parameter(torch.zeros(4))


def names(model: nn.Module, group: list) -> set[str]:
    ids = {id(p) for p in group}
    return {n for n, p in model.named_parameters() if id(p) in ids}


def by_name(groups: list[dict]) -> dict[str, list]:
    return {g["name"]: g["params"] for g in groups}


def test_no_decay_holds_exactly_biases_norms_and_embeddings():
    model = Mixed()
    groups = by_name(parameter_groups(model))
    assert names(model, groups["no_decay"]) == {
        "bn1.weight", "bn1.bias", "conv.bias", "tokens.weight", "bag.weight",
        "head.0.bias", "head.1.weight", "head.1.bias", "head.2.weight", "head.2.bias",
        "rms.weight", "inorm.weight", "inorm.bias", "attn.in_proj_bias", "attn.out_proj.bias",
    }  # fmt: skip
    assert names(model, groups["decay"]) == {
        "conv.weight", "patch_embed.proj.weight", "head.0.weight",
        "attn.in_proj_weight", "attn.out_proj.weight", "pos_embed",
    }  # fmt: skip


def test_every_trainable_parameter_in_exactly_one_group_frozen_in_none():
    model = Mixed()
    model.conv.requires_grad_(False)
    groups = parameter_groups(model)
    passed = [id(p) for g in groups for p in g["params"]]
    assert len(passed) == len(set(passed))
    assert set(passed) == {id(p) for p in model.parameters() if p.requires_grad}


def test_rules_are_switchable_and_extendable():
    model = Mixed()
    rules = NoWeightDecay(
        bias=False,
        embedding=False,
        module_types=["torch.nn.MultiheadAttention"],
        parameter_names=["pos_embed"],
    )
    no_decay = names(model, by_name(parameter_groups(model, rules))["no_decay"])
    assert "conv.bias" not in no_decay and "tokens.weight" not in no_decay
    assert {"bn1.bias", "attn.in_proj_weight", "attn.in_proj_bias", "pos_embed"} <= no_decay
    assert "attn.out_proj.weight" not in no_decay  # owned by the Linear inside, not the MHA
    one = parameter_groups(model, None)
    assert [g["name"] for g in one] == ["decay"]
    with pytest.raises(ValueError, match="module_types"):
        parameter_groups(model, NoWeightDecay(module_types=["torch.nn.NoSuchLayer"]))


def test_tied_weight_is_not_decayed_if_any_owner_says_so():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 10, bias=False))
    model[1].weight = model[0].weight
    groups = parameter_groups(model)
    assert [g["name"] for g in groups] == ["no_decay"]
    assert len(groups[0]["params"]) == 1


def test_task_builds_groups_with_the_optimizers_decay_and_zero_for_the_rest():
    from toy import TinyNet

    task = ImageClassifier(
        TinyNet(input_shape=(1, 8, 8)),
        optimizer=lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=0.05),
    )
    optimizer = task.configure_optimizers()
    decay = {g["name"]: g["weight_decay"] for g in optimizer.param_groups}
    assert decay == {"decay": 0.05, "no_decay": 0.0}
    task.weight_decay_scale = 0.5  # what NominalBatchSize sets
    decay = {g["name"]: g["weight_decay"] for g in task.configure_optimizers().param_groups}
    assert decay == {"decay": 0.025, "no_decay": 0.0}
