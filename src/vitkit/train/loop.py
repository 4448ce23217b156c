"""The training loop: pre-training from scratch or fine-tuning a checkpoint, resumable at any step.

A step consumes one global batch (``recipe.batch_size`` images over all ranks, in ``accum_steps``
micro-batches). The data position is a pure function of the step (epoch = step // steps_per_epoch),
augmentations are drawn per sample from (seed, epoch, index), and the RNG state is checkpointed: a run
resumed from ``last.pt`` continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..checkpoint import load
from ..checkpoint.native import save_state
from ..data import DataError, make_loader, open_dataset
from ..errors import ConfigError
from ..models.build import build_model
from ..models.config import ViTConfig
from ..models.trainable import TrainableModel
from ..models.transform import transform_for
from ..models.variants import model_config
from ..runtime.device import pick_device
from ..use.evaluate import EvalResult, all_reduce_result, evaluate
from . import distributed as dist_utils
from .ema import EMA
from .errors import TrainingError
from .objectives import make_objective
from .optim import build_optimizer
from .runlog import RunLog
from .schedule import lr_at
from .spec import TrainSpec
from .state import (
    STATE_FILE,
    atomic_torch_save,
    full_model_state,
    full_state,
    read_state,
    restore_state,
    rng_state,
    rng_state_of_rank,
    set_rng_state,
)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    if precision == "bf16" or (precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return None


class Trainer:
    """One run: ``Trainer(spec, resume).run()`` -> summary dict."""

    def __init__(self, spec: TrainSpec, resume: bool = False) -> None:
        self.out = Path(spec.out)
        if resume and (self.out / "config.json").is_file():
            spec = TrainSpec.read(self.out)  # a resumed run is the run that was started
        self.spec, self.recipe, self.resume = spec, spec.recipe, resume
        self.device = pick_device(spec.device)
        self.dist = dist_utils.setup(self.device)
        self.amp = autocast_dtype(self.recipe.precision, self.device)
        self._check_spec()
        self.train_set = self._open(spec.data)
        self.classes = self.train_set.classes
        self.val_set = self._open(spec.val) if spec.val else None
        torch.manual_seed(spec.seed)
        self.model = self._build_model()
        self.transform = transform_for(self.model, spec.transform_overrides)
        self.train_module = self._train_module()
        dist_utils.seed_per_rank(spec.seed, self.dist)  # after initialisation, which stays the same on every rank
        self.steps_per_epoch = len(self.train_set) // self.recipe.batch_size
        if self.steps_per_epoch == 0:
            raise DataError(
                f"{spec.data}: {len(self.train_set)} images, fewer than one batch of {self.recipe.batch_size}"
            )
        r = self.recipe
        self.total_steps = r.steps if r.steps is not None else max(1, round(r.epochs * self.steps_per_epoch))

    # ------------------------------------------------------------------------------------ set-up

    def _check_spec(self) -> None:
        r, world = self.recipe, self.dist.world_size
        micro = r.micro_batch_size or r.batch_size
        if micro % world:
            raise ConfigError(f"batch_size: the micro-batch {micro} is not divisible by {world} processes")
        if self.spec.fsdp and r.ema_decay:
            raise ConfigError("--fsdp: EMA of sharded weights is not supported; drop ema_decay or --fsdp")
        if (self.spec.model is None) == (self.spec.init is None):
            raise ConfigError("model: give exactly one of a variant name (train) or a checkpoint (finetune)")
        if not self.resume and (self.out / STATE_FILE).is_file():  # its config.json would be overwritten, and a
            # later --resume would continue the old run's state under the new settings
            raise ConfigError(
                f"--out {self.out}: holds a run already ({STATE_FILE}); expected --resume to continue it, "
                "or another --out to start a new one"
            )

    def _open(self, spec: str) -> Any:
        data = open_dataset(spec)
        data.validate()
        return data

    def _build_model(self) -> TrainableModel:
        spec, r = self.spec, self.recipe
        overrides = dict(spec.model_overrides)
        if spec.image_size:
            overrides["image_size"] = spec.image_size
        if spec.model is not None:
            if r.dropout_rate is not None and isinstance(model_config(spec.model), ViTConfig):  # BiT has none
                overrides.setdefault("dropout_rate", r.dropout_rate)
            model = build_model(model_config(spec.model, num_classes=len(self.classes), **overrides))
        else:
            model = load(spec.init, image_size=spec.image_size, num_classes=len(self.classes), drop_pre_logits=True)
            overrides.pop("image_size", None)
            if r.dropout_rate is not None and isinstance(model.config, ViTConfig):
                overrides.setdefault("dropout_rate", r.dropout_rate)
            if overrides:  # e.g. the recipe's dropout: rebuild with the same weights
                state, info = model.state_dict(), model.info
                model = build_model(model.config.replace(**overrides))
                model.load_state_dict(state)
                model.info = dataclasses.replace(info, name=model.info.name)
        model.info.classes = list(self.classes)
        if r.grad_checkpointing:
            model.set_grad_checkpointing(True)
        return model.to(self.device)

    def _train_module(self) -> TrainableModel:
        """What the optimizer updates and ``last.pt`` holds: the model itself, or for masked patch
        prediction the ViT with its [mask] embedding and colour head (weights files keep the ViT alone)."""
        if self.recipe.objective != "mpp":
            return self.model
        from .mpp import MPPModel

        return MPPModel(self.model, self.transform.mean, self.transform.std)

    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        r = self.recipe
        skip = self.train_module.no_weight_decay()
        decay, no_decay = [], []
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            name = name.removeprefix("module.")
            (no_decay if p.ndim <= 1 or name in skip else decay).append(p)
        groups = [{"params": decay, "weight_decay": r.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return build_optimizer(groups, r.optimizer, lr=r.lr, momentum=r.momentum, betas=r.betas)

    # ------------------------------------------------------------------------------------- loop

    def run(self) -> dict[str, Any]:
        r, d = self.recipe, self.dist
        self.out.mkdir(parents=True, exist_ok=True)
        if d.is_main:
            self.spec.write(self.out)
        model = dist_utils.wrap(self.train_module, d, self.device, self.spec.fsdp)
        optimizer = self._optimizer(model)
        ema = EMA(self.model, r.ema_decay) if r.ema_decay else None
        step, best = 0, -1.0
        if self.resume and (self.out / STATE_FILE).is_file():
            step, best = self._restore(model, optimizer, ema)
        forward = torch.compile(model) if r.compile else model
        objective = make_objective(r)
        log = RunLog(self.out, self.total_steps, step, d.is_main, r.log_every)
        if step:
            log.message(f"resumed {self.out} at step {step}/{self.total_steps}")
        try:
            step, best = self._loop(model, forward, optimizer, ema, objective, log, step, best)
            summary = self._finish(model, optimizer, ema, log, step, best)
        finally:
            log.close()
        return summary

    def _loop(self, model, forward, optimizer, ema, objective, log, step, best):
        r, d = self.recipe, self.dist
        micro = (r.micro_batch_size or r.batch_size) // d.world_size
        while step < self.total_steps:
            epoch, pos = divmod(step, self.steps_per_epoch)
            loader = make_loader(
                self.train_set,
                self.transform,
                micro,
                train=True,
                seed=self.spec.seed,
                num_workers=r.num_workers,
                rank=d.rank,
                world_size=d.world_size,
                epoch=epoch,
                start_index=pos * r.batch_size,
            )
            batches = iter(loader)
            for _ in range(self.steps_per_epoch - pos):
                if step >= self.total_steps:
                    break
                t0 = time.perf_counter()
                lr = lr_at(
                    step,
                    base_lr=r.lr,
                    total_steps=self.total_steps,
                    warmup_steps=r.warmup_steps,
                    kind=r.schedule,
                    min_lr=r.min_lr,
                )
                for group in optimizer.param_groups:
                    group["lr"] = lr
                loss, stats = self._step(model, forward, optimizer, objective, batches)
                if ema is not None:
                    ema.update(self.model)
                step += 1
                if step % r.log_every == 0 or step == self.total_steps:
                    rate = r.batch_size / max(time.perf_counter() - t0, 1e-9)
                    log.record(
                        step,
                        {
                            "epoch": step / self.steps_per_epoch,
                            "loss": dist_utils.mean_across(loss, d),
                            "lr": lr,
                            "images_per_s": rate,
                            **stats,
                        },
                    )
                if r.eval_every and step % r.eval_every == 0:
                    best = self._validate(ema, log, step, best)
                if step % r.checkpoint_every == 0 and step < self.total_steps:
                    self._save(model, optimizer, ema, step, best)
            if step % self.steps_per_epoch == 0 and step < self.total_steps:  # epoch boundary
                if not r.eval_every:
                    best = self._validate(ema, log, step, best)
                self._save(model, optimizer, ema, step, best)
            if loader.skipped:
                log.message(f"skipped {loader.skipped} undecodable images in epoch {epoch}")
        return step, best

    def _step(self, model, forward, optimizer, objective, batches) -> tuple[float, dict[str, float]]:
        r = self.recipe
        total, stats = 0.0, {}
        for i in range(r.accum_steps):
            images, labels = next(batches, (None, None))
            if images is None:
                raise DataError(
                    f"{self.spec.data}: the data ran out before the epoch's {self.steps_per_epoch} steps "
                    "(undecodable images skipped, or uneven shards)"
                )
            images, labels = images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)
            sync = i == r.accum_steps - 1 or not isinstance(model, nn.parallel.DistributedDataParallel)
            with contextlib.nullcontext() if sync else model.no_sync():
                with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
                    loss, stats = objective(forward, images, labels)
                (loss / r.accum_steps).backward()
            total += float(loss.detach()) / r.accum_steps
        if not math.isfinite(total):
            raise TrainingError(f"loss is {total} at this step: lower the learning rate (--set lr=...)")
        if r.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), r.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return total, stats

    # ------------------------------------------------------------------------- eval and saving

    def eval_model(self, ema: EMA | None) -> nn.Module:
        return ema.shadow if ema is not None else self.model

    def evaluate_on(self, data: Any, model: nn.Module) -> EvalResult:
        loader = make_loader(
            data,
            self.transform,
            max(1, (self.recipe.micro_batch_size or self.recipe.batch_size) // self.dist.world_size),
            train=False,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
        )
        return all_reduce_result(evaluate(model, loader, len(self.classes), self.device, self.amp))

    def _validate(self, ema: EMA | None, log: RunLog, step: int, best: float) -> float:
        if self.val_set is None or self.recipe.objective != "classify":
            return best
        result = self.evaluate_on(self.val_set, self.eval_model(ema))
        log.record(step, {"top1": result.top1, "top5": result.top5, "loss": result.loss}, kind="val")
        if result.top1 > best:
            best = result.top1
            self._save_weights("best.safetensors", ema)
        return best

    def _extra(self) -> dict[str, Any]:
        return {**self.model.info.extra, "transform": self.transform.to_dict()}

    def _save_weights(self, name: str, ema: EMA | None, state: dict | None = None) -> None:
        if state is None:
            state = ema.shadow.state_dict() if ema is not None else full_model_state(self.model)
        elif self.train_module is not self.model:  # the MPP wrapper's state: keep the ViT's weights
            state = self.train_module.vit_state(state)
        if self.dist.is_main:
            save_state(state, self.model.config, self.out / name, classes=self.classes, extra=self._extra())

    def _save(self, model, optimizer, ema, step, best) -> None:
        model_sd, optim_sd = full_state(model, optimizer)
        rngs = dist_utils.gather_objects(rng_state(), self.dist)  # every rank's own stream, for an exact resume
        if self.dist.is_main:
            atomic_torch_save(
                {
                    "step": step,
                    "best": best,
                    "model": model_sd,
                    "optimizer": optim_sd,
                    "ema": ema.state_dict() if ema else None,
                    "rng": rngs[0],
                    **({"rng_ranks": rngs} if self.dist.enabled else {}),
                },
                self.out / STATE_FILE,
            )
        self._save_weights("last.safetensors", ema, None if ema else model_sd)
        dist_utils.barrier(self.dist)

    def _restore(self, model, optimizer, ema) -> tuple[int, float]:
        state = read_state(self.out)
        restore_state(model, optimizer, state["model"], state["optimizer"])
        if ema is not None and state.get("ema"):
            ema.load_state_dict(state["ema"])
        mine = rng_state_of_rank(state, self.dist.rank, self.dist.world_size)
        if mine is not None:
            set_rng_state(mine)
        else:  # saved by another number of processes: each rank's stream re-derived from the seed and the step
            dist_utils.seed_per_rank(self.spec.seed, self.dist, step=int(state["step"]))
        return int(state["step"]), float(state["best"])

    def _finish(self, model, optimizer, ema, log, step, best) -> dict[str, Any]:
        best = self._validate(ema, log, step, best)
        self._save(model, optimizer, ema, step, best)
        model_sd = None if ema else full_state(model, optimizer)[0]
        self._save_weights("final.safetensors", ema, model_sd)
        summary: dict[str, Any] = {"steps": step, "out": str(self.out)}
        if self.val_set is not None and self.recipe.objective == "classify":
            summary["val_top1_best"] = best
        if self.spec.test and self.recipe.objective == "classify":
            result = self.evaluate_on(self._open(self.spec.test), self.eval_model(ema))
            log.record(step, {"top1": result.top1, "top5": result.top5, "loss": result.loss}, kind="test")
            summary["test_top1"], summary["test_top5"] = result.top1, result.top5
        return summary


def train(spec: TrainSpec, resume: bool = False) -> dict[str, Any]:
    """Run (or resume) a training run; returns its summary."""
    return Trainer(spec, resume).run()
