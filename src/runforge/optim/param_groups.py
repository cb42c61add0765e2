"""Parameter groups: weight decay for weights, none for biases, normalisation layers, embeddings.

The decision is made per parameter from the type of the module that owns it and the
parameter's name inside that module (`bias`), never from the full dotted name, so
`bn1.weight`, `LayerNorm.weight` and `pos_embedding` are found whatever the network calls
its layers, and `patch_embed.proj.weight` (a convolution) keeps its decay.
"""

from dataclasses import dataclass, field
from pkgutil import resolve_name

from torch import nn
from torch.nn.modules.batchnorm import _NormBase

from runforge.errors import ConfigError

#: Every torch normalisation layer (BatchNorm*, SyncBatchNorm, InstanceNorm*, LazyBatchNorm*
#: derive from `_NormBase`; LocalResponseNorm and CrossMapLRN2d have no parameters).
NORM_TYPES: tuple[type[nn.Module], ...] = (
    _NormBase,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.RMSNorm,
    nn.LocalResponseNorm,
    nn.CrossMapLRN2d,
)
EMBEDDING_TYPES: tuple[type[nn.Module], ...] = (nn.Embedding, nn.EmbeddingBag)

DECAY, NO_DECAY = "decay", "no_decay"


def _module_type(path: str) -> type:
    """The class at `path`; a ConfigError naming `no_weight_decay.module_types` if there is none."""
    try:
        cls = resolve_name(path)
    except (ImportError, AttributeError, ValueError) as error:
        raise ConfigError(f"no_weight_decay.module_types: cannot import {path!r}") from error
    if not isinstance(cls, type):
        raise ConfigError(f"no_weight_decay.module_types: {path!r} is not a class")
    return cls


def _is_bias(local_name: str) -> bool:
    """`bias`, and the biases of attention and recurrent layers (`in_proj_bias`, `bias_ih_l0`)."""
    return local_name == "bias" or local_name.startswith("bias_") or local_name.endswith("_bias")


@dataclass(frozen=True)
class NoWeightDecay:
    """Which parameters are trained without weight decay.

    Args:
        bias: Biases of every layer.
        normalization: All parameters of normalisation layers (BatchNorm, LayerNorm,
            GroupNorm, InstanceNorm, RMSNorm, SyncBatchNorm, ...).
        embedding: Weights of `nn.Embedding` and `nn.EmbeddingBag`.
        module_types: More module classes (import paths, e.g. `my_models.ScaleNorm`) whose
            own parameters get no decay.
        parameter_names: More parameter names, matched against the name inside the
            owning module (e.g. `pos_embed`, `cls_token`), not the full dotted path.
    """

    bias: bool = True
    normalization: bool = True
    embedding: bool = True
    module_types: list[str] = field(default_factory=list)
    parameter_names: list[str] = field(default_factory=list)

    def excludes(self, module: nn.Module, local_name: str, extra_types: tuple = ()) -> bool:
        """Whether the parameter `local_name` of `module` is trained without weight decay."""
        return (
            (self.bias and _is_bias(local_name))
            or (self.normalization and isinstance(module, NORM_TYPES))
            or (self.embedding and isinstance(module, EMBEDDING_TYPES))
            or isinstance(module, extra_types)
            or local_name in self.parameter_names
        )

    def excluded_ids(self, model: nn.Module) -> set[int]:
        """Ids of the parameters of `model` that get no weight decay.

        A parameter shared by several modules gets no decay if any of its owners says so.
        """
        extra_types = tuple(_module_type(path) for path in self.module_types)
        excluded = set()
        for module in model.modules():
            for local_name, param in module.named_parameters(recurse=False):
                if self.excludes(module, local_name, extra_types):
                    excluded.add(id(param))
        return excluded


def parameter_groups(model: nn.Module, rules: NoWeightDecay | None = NoWeightDecay()) -> list[dict]:
    """Split the trainable parameters of `model` into a `decay` and a `no_decay` group.

    Every trainable parameter lands in exactly one group; frozen parameters in none. The
    `no_decay` group has `weight_decay=0`; the `decay` group takes the optimizer's. Empty
    groups are left out. With `rules=None` all trainable parameters form one `decay` group.
    Each group carries a `name`, which `LearningRateMonitor` uses in its keys
    (`lr-AdamW/decay`).
    """
    excluded = rules.excluded_ids(model) if rules is not None else set()
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (no_decay if id(param) in excluded else decay).append(param)
    groups = []
    if decay:
        groups.append({"name": DECAY, "params": decay})
    if no_decay:
        groups.append({"name": NO_DECAY, "params": no_decay, "weight_decay": 0.0})
    return groups
