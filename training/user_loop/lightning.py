"""Dynamic recipes in PyTorch Lightning: ``DynamicRecipeCallback``.

The callback runs a ``training.user_loop.dynamic.DynamicRecipe`` inside ``Trainer.fit``: the
controller picks the augmentation, optimizer, LR schedule and loss at every decision, and a
decision spans ``epochs_per_decision`` epochs (the budget is ``max_epochs``)::

    class Net(pl.LightningModule):
        def training_step(self, batch, batch_idx):
            dyn = self.dynamic_recipe              # attached by the callback at train start
            images, targets = dyn.augment(*batch)  # images: float [B, 3, H, W] in [0, 1]
            loss = dyn.loss(self(images), targets)
            dyn.step(loss)                         # backward, clipping, step, EMAs
            return loss

        def configure_optimizers(self):
            return None                            # the DynamicRecipe owns the optimizer

    callback = DynamicRecipeCallback(num_classes=10, train_targets=train_set.labels,
                                     controller="zoo:mat-dqn-rnd-digits-v0", val_loader=val_loader)
    pl.Trainer(max_epochs=8, callbacks=[callback]).fit(Net(), train_loader)
    callback.dynamic_recipe.eval_model             # the slow-EMA weights, for your test set

What the callback does, and nothing more: at ``setup`` it switches the module to Lightning's
manual optimization and checks the trainer's settings; at train start (when the train
loader's length is known) it builds the ``DynamicRecipe`` on the module with
``decisions = max_epochs // epochs_per_decision`` and ``steps_per_decision = batches per
epoch * epochs_per_decision``, attaches it as ``pl_module.dynamic_recipe`` and calls
``start(val_loader)``; after every batch it checks that ``training_step`` made exactly one
``step`` and counts it as Lightning's optimizer step (``trainer.global_step``, which
``ModelCheckpoint`` and the loggers go by, would stay 0 otherwise); every
``epochs_per_decision`` epochs it calls ``decide(val_loader)`` and logs the decision's val
metrics as ``dynamic_recipe/<name>``. Its ``state_dict`` is the recipe's, so Lightning
checkpoints resume it exactly (``trainer.fit(..., ckpt_path=...)``; the state is tensors and
plain values, so ``weights_only=True`` loading reads it).

The trainer must run one process, at ``precision`` ``"32-true"`` or ``"bf16-mixed"``, without
``max_steps``, ``gradient_clip_val`` or ``accumulate_grad_batches`` (the recipe clips, and
steps once per batch), and with ``max_epochs`` a multiple of ``epochs_per_decision``. The
``DynamicRecipe``'s EMA model is a deep copy of the whole module, taken at train start.
It is a ``pytorch_lightning.Callback``, for ``pytorch_lightning.Trainer`` (the unified
``lightning`` package's ``lightning.pytorch`` has its own classes; it is not tested here).

Why ``training_step`` calls ``step`` itself: in manual optimization Lightning detaches the
loss ``training_step`` returns before any callback sees it, so a callback cannot run its
backward; stepping in ``training_step`` is Lightning's own manual-optimization idiom.

Needs PyTorch Lightning (``pip install -c constraints.txt ".[lightning]"``); ``training``
itself never imports this module.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

try:
    import pytorch_lightning as pl
except ImportError as error:  # pragma: no cover - exercised by tests/test_lightning.py
    raise ImportError(
        "training.user_loop.lightning needs PyTorch Lightning, which is an optional extra: "
        'pip install -c constraints.txt ".[lightning]" (the constraints keep the CPU torch)'
    ) from error
from torch.utils.data import DataLoader

from agents import Controller
from training.user_loop.dynamic import DynamicRecipe, UserLoopError

__all__ = ["DynamicRecipeCallback"]

SUPPORTED_PRECISION = ("32-true", "bf16-mixed")
"""Trainer precisions the recipe's own backward works under (fp16 would need a grad scaler:
give ``trainer=TrainerConfig(amp=...)`` instead)."""


def _single_loader(loaders: Any) -> Iterable[Any] | None:
    """The one val loader among Lightning's ``val_dataloaders`` (a loader, a list or a dict)."""
    if isinstance(loaders, Mapping):
        loaders = list(loaders.values())
    if isinstance(loaders, (list, tuple)) and loaders \
            and all(isinstance(x, DataLoader) for x in loaders):
        if len(loaders) > 1:
            raise UserLoopError(f"the trainer has {len(loaders)} val loaders; pass the one the "
                                "controller decides on as DynamicRecipeCallback(val_loader=...)")
        return loaders[0]
    return loaders


def _count_optimizer_step(trainer: pl.Trainer) -> None:
    """Count one optimizer step in Lightning's manual-optimization progress (``global_step``)."""
    progress = trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress
    progress.increment_ready()
    progress.increment_completed()


class DynamicRecipeCallback(pl.Callback):
    """Drive a LightningModule's optimizer, loss and augmentation by a ``DynamicRecipe``.

    The module's ``training_step`` calls ``self.dynamic_recipe.augment``, ``.loss`` and
    ``.step`` once per batch (see the module docstring); its ``configure_optimizers`` returns
    None. The other arguments are ``DynamicRecipe``'s, without the model and the budget,
    which come from the module and the trainer.

    Args:
        num_classes: labels per image (the logits' width).
        train_targets: the training set's multi-hot labels ``[N, num_classes]``.
        controller: ``"zoo:<name>"``, a saved controller's directory, an algorithm name
            (``"static"`` plays the default recipe) or an ``agents.Controller``.
        seed: seeds the augmentation draws and a controller built from a name.
        normalize: per-channel ``(mean, std)`` applied after augmentation and at evaluation.
        env_settings: env settings the controller's observation and reward follow.
        val_loader: the ``(images, targets)`` loader each decision evaluates ``eval_model``
            on; default: the trainer's val dataloader (needs a ``validation_step``).
        epochs_per_decision: epochs between decisions; must divide ``max_epochs``.
        **recipe_options: further ``DynamicRecipe`` keywords (``trainer=TrainerConfig(...)``,
            ``train_ignore=``, ``generator=``).
    """

    def __init__(self, *, num_classes: int, train_targets: Any,
                 controller: str | Path | Controller = "static", seed: int = 0,
                 normalize: tuple[Any, Any] | None = None,
                 env_settings: Mapping[str, Any] | None = None,
                 val_loader: Iterable[Any] | None = None, epochs_per_decision: int = 1,
                 **recipe_options: Any) -> None:
        super().__init__()
        if isinstance(epochs_per_decision, bool) or not isinstance(epochs_per_decision, int) \
                or epochs_per_decision < 1:
            raise UserLoopError(f"epochs_per_decision must be a positive int, got "
                                f"{epochs_per_decision!r}")
        self.recipe_options: dict[str, Any] = dict(
            num_classes=num_classes, train_targets=train_targets, controller=controller,
            seed=seed, normalize=normalize, env_settings=env_settings, **recipe_options)
        self.val_loader = val_loader
        self.epochs_per_decision = epochs_per_decision
        self.dynamic_recipe: DynamicRecipe | None = None
        """The run's ``DynamicRecipe`` (built at train start; kept after ``fit``)."""
        self._pending_state: Mapping[str, Any] | None = None
        self._steps_before_batch = 0

    # ------------------------------------------------------------- set-up
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """For ``fit``: check the trainer's settings, switch to manual optimization."""
        if stage != "fit":
            return
        self._check_trainer(trainer)
        pl_module.automatic_optimization = False

    def _check_trainer(self, trainer: pl.Trainer) -> None:
        """Refuse the trainer settings the recipe cannot honour, naming the fix."""
        epochs = trainer.max_epochs
        if epochs is None or epochs < 1:
            raise UserLoopError(f"Trainer(max_epochs={epochs}): the recipe's budget is "
                                "max_epochs; give a positive number of epochs")
        if epochs % self.epochs_per_decision:
            raise UserLoopError(
                f"Trainer(max_epochs={epochs}) is not a multiple of epochs_per_decision="
                f"{self.epochs_per_decision}: every decision spans the same number of epochs")
        if trainer.max_steps != -1:
            raise UserLoopError(f"Trainer(max_steps={trainer.max_steps}): the recipe's budget "
                                "is max_epochs; leave max_steps unset")
        if trainer.world_size > 1:
            raise UserLoopError(f"{trainer.world_size} processes: each would run its own "
                                "controller; the DynamicRecipe trains on one device")
        if trainer.precision not in SUPPORTED_PRECISION:
            raise UserLoopError(
                f"Trainer(precision={trainer.precision!r}) is not supported (use one of "
                f"{SUPPORTED_PRECISION}); the recipe's own mixed precision is "
                "DynamicRecipeCallback(trainer=TrainerConfig(amp=...))")
        if trainer.gradient_clip_val:
            raise UserLoopError(f"Trainer(gradient_clip_val={trainer.gradient_clip_val}): the "
                                "recipe clips itself; set TrainerConfig(grad_clip=...) instead")
        if trainer.accumulate_grad_batches != 1:
            raise UserLoopError("Trainer(accumulate_grad_batches=...) is not supported: the "
                                "recipe makes one optimizer step per batch")

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Build the ``DynamicRecipe`` on the module; start it, or resume a checkpoint's."""
        batches = trainer.num_training_batches
        if not isinstance(batches, int) or batches < 1:
            raise UserLoopError(f"the train loader has {batches} batches per epoch; the recipe "
                                "needs a loader with a length (steps per decision)")
        pl_module.dynamic_recipe = None  # not deep-copied into the recipe's EMA model
        dyn = DynamicRecipe(pl_module, decisions=trainer.max_epochs // self.epochs_per_decision,
                            steps_per_decision=batches * self.epochs_per_decision,
                            **self.recipe_options)
        self.dynamic_recipe = pl_module.dynamic_recipe = dyn
        if self._pending_state is not None:
            state, self._pending_state = self._pending_state, None
            self.load_state_dict(state)
        else:
            dyn.start(self._val(trainer))

    def _val(self, trainer: pl.Trainer) -> Iterable[Any]:
        """The loader decisions evaluate on: the given one, else the trainer's."""
        loader = self.val_loader if self.val_loader is not None \
            else _single_loader(trainer.val_dataloaders)
        if loader is None:
            raise UserLoopError(
                "no val loader: pass DynamicRecipeCallback(val_loader=...), or give trainer.fit "
                "val_dataloaders and the module a validation_step (Lightning loads them only then)")
        return loader

    def _recipe(self) -> DynamicRecipe:
        if self.dynamic_recipe is None:
            raise UserLoopError("the DynamicRecipe is built at train start (on_train_start)")
        return self.dynamic_recipe

    # ------------------------------------------------------------ the run
    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Make a decision left open by a checkpoint saved between its last step and it."""
        dyn = self._recipe()
        if not dyn.done and dyn.steps_in_decision >= dyn.steps_per_decision:
            self._decide(trainer, pl_module)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        """Note the step count, to check ``training_step`` made exactly one step."""
        self._steps_before_batch = self._recipe().steps_in_decision

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        """Check the batch made one ``step``, and count it as Lightning's optimizer step."""
        made = self._recipe().steps_in_decision - self._steps_before_batch
        if made != 1:
            raise UserLoopError(
                f"training_step made {made} DynamicRecipe steps on batch {batch_idx}; it must "
                "call self.dynamic_recipe.step(loss) exactly once (Lightning's manual "
                "optimization: the recipe does backward and the optimizer step)")
        _count_optimizer_step(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Every ``epochs_per_decision`` epochs: the controller picks the next recipe."""
        if (trainer.current_epoch + 1) % self.epochs_per_decision == 0 and not self._recipe().done:
            self._decide(trainer, pl_module)

    def _decide(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """``decide`` on the val loader, and log the decision's val metrics."""
        dyn = self._recipe()
        dyn.decide(self._val(trainer))
        pl_module.log_dict({f"dynamic_recipe/{name}": value
                            for name, value in dyn.history[-1].val.items()})

    # --------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The ``DynamicRecipe``'s state and its budget (empty before train start)."""
        if self.dynamic_recipe is None:
            return dict(self._pending_state or {})
        dyn = self.dynamic_recipe
        return {"decisions": dyn.decisions, "steps_per_decision": dyn.steps_per_decision,
                "dynamic_recipe": dyn.state_dict()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Resume from ``state_dict``; before train start it is kept until the recipe is built."""
        if not state_dict:
            return
        if self.dynamic_recipe is None:
            self._pending_state = state_dict
            return
        dyn = self.dynamic_recipe
        budget = (state_dict["decisions"], state_dict["steps_per_decision"])
        if budget != (dyn.decisions, dyn.steps_per_decision):
            raise UserLoopError(
                f"the checkpoint's recipe ran {budget[0]} decisions of {budget[1]} steps, this "
                f"trainer {dyn.decisions} of {dyn.steps_per_decision}: resume with the same "
                "max_epochs, epochs_per_decision and train loader")
        dyn.load_state_dict(state_dict["dynamic_recipe"])
