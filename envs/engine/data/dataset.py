"""The in-memory dataset types every loader returns.

A dataset is decoded once into dense uint8 tensors at a fixed square size, so the
trainer indexes batches straight out of memory and never touches image files.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence, Union

import numpy as np
import torch

from envs.errors import DatasetFormatError

Index = Union[torch.Tensor, np.ndarray, Sequence[int], range]


@dataclass(frozen=True, eq=False)
class MLICDataset:
    """A decoded multi-label image-classification split.

    ``ignore[i, k]`` is True where class ``k`` is neither positive nor negative for
    image ``i`` (VOC: every object of that class in the image is marked
    ``difficult``); ``labels`` is 0 there. Metrics and losses mask those entries.
    """

    images: torch.Tensor
    """uint8 ``[N, 3, S, S]``, contiguous, ``S == image_size``."""
    labels: torch.Tensor
    """uint8 ``[N, K]`` with values in ``{0, 1}``."""
    ignore: torch.Tensor
    """bool ``[N, K]``; True marks an entry that counts as neither positive nor negative."""
    class_names: tuple[str, ...]
    """``K`` class names, in label-column order."""
    name: str
    """Dataset name: ``"voc"``, ``"coco"``, ``"csv"`` or ``"digits"``."""
    split: str
    """Split name (``"train"``, ``"val"``, ``"test"``, ``"trainval"``, ...)."""

    def __post_init__(self) -> None:
        images, labels, ignore = self.images, self.labels, self.ignore
        where = f"dataset {self.name!r} split {self.split!r}"
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 \
                or images.dim() != 4 or images.shape[1] != 3 or images.shape[2] != images.shape[3]:
            raise DatasetFormatError(
                f"{where}: images must be a uint8 tensor [N, 3, S, S], got "
                f"{getattr(images, 'dtype', type(images))} {tuple(getattr(images, 'shape', ()))}")
        n = images.shape[0]
        k = len(self.class_names)
        if not isinstance(labels, torch.Tensor) or labels.dtype != torch.uint8 \
                or tuple(labels.shape) != (n, k):
            raise DatasetFormatError(
                f"{where}: labels must be a uint8 tensor [{n}, {k}], got "
                f"{getattr(labels, 'dtype', type(labels))} {tuple(getattr(labels, 'shape', ()))}")
        if not isinstance(ignore, torch.Tensor) or ignore.dtype != torch.bool \
                or tuple(ignore.shape) != (n, k):
            raise DatasetFormatError(
                f"{where}: ignore must be a bool tensor [{n}, {k}], got "
                f"{getattr(ignore, 'dtype', type(ignore))} {tuple(getattr(ignore, 'shape', ()))}")
        if labels.numel() and int(labels.max()) > 1:
            raise DatasetFormatError(f"{where}: labels must be 0 or 1")
        if bool((labels.bool() & ignore).any()):
            raise DatasetFormatError(f"{where}: an ignored entry must have label 0")
        if len(set(self.class_names)) != k:
            raise DatasetFormatError(f"{where}: duplicate class names in {self.class_names}")
        if not images.is_contiguous():
            object.__setattr__(self, "images", images.contiguous())
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        return (f"MLICDataset(name={self.name!r}, split={self.split!r}, n={len(self)}, "
                f"num_classes={self.num_classes}, image_size={self.image_size})")

    @property
    def num_classes(self) -> int:
        """Number of classes ``K``."""
        return len(self.class_names)

    @property
    def image_size(self) -> int:
        """Side ``S`` of the square images."""
        return int(self.images.shape[-1])

    def subset(self, index: Index, *, split: str | None = None) -> "MLICDataset":
        """The images at ``index`` (a LongTensor, bool mask or sequence of ints), in that order.

        ``split`` renames the result's split (default: keep this one's).
        """
        idx = torch.as_tensor(np.asarray(index) if not isinstance(index, torch.Tensor) else index)
        if idx.dtype == torch.bool:
            if idx.shape != (len(self),):
                raise IndexError(f"bool mask of shape {tuple(idx.shape)} for {len(self)} images")
            idx = idx.nonzero().flatten()
        if idx.numel() == 0:
            idx = idx.reshape(0)
        idx = idx.to(torch.long).flatten()
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= len(self)):
            raise IndexError(f"subset index out of range for a dataset of {len(self)} images")
        return replace(
            self,
            images=self.images.index_select(0, idx).contiguous(),
            labels=self.labels.index_select(0, idx),
            ignore=self.ignore.index_select(0, idx),
            split=self.split if split is None else split,
        )

    def positive_counts(self) -> torch.Tensor:
        """Positives per class (int64 ``[K]``), not counting ignored entries."""
        return ((self.labels == 1) & ~self.ignore).sum(dim=0, dtype=torch.int64)


def without_ignores(images: torch.Tensor, labels: torch.Tensor, class_names: tuple[str, ...],
                    name: str, split: str) -> MLICDataset:
    """An ``MLICDataset`` whose every label is known (no ignored entries: COCO, CSV, digits)."""
    return MLICDataset(images=images, labels=labels, ignore=torch.zeros(labels.shape, dtype=torch.bool),
                       class_names=class_names, name=name, split=split)


@dataclass(frozen=True, eq=False)
class DatasetSplits:
    """The train / val / test splits one environment trains and evaluates on."""

    train: MLICDataset
    """Images the classifier is trained on."""
    val: MLICDataset
    """Held-out images the agents' reward is computed on."""
    test: MLICDataset
    """Images only reported at the end, never used for any decision."""

    def __post_init__(self) -> None:
        names = {self.train.class_names, self.val.class_names, self.test.class_names}
        if len(names) != 1:
            raise DatasetFormatError("train, val and test splits have different class lists")
        sizes = {self.train.image_size, self.val.image_size, self.test.image_size}
        if len(sizes) != 1:
            raise DatasetFormatError(
                f"train, val and test have different image sizes {sorted(sizes)}")
