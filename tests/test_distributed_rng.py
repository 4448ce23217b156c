"""Under DDP each rank draws its own dropout, stochastic-depth and MPP masks, from the same initial weights.

Two real processes joined by gloo (as ``torchrun`` would start them) each build the trainer of one MPP run with
dropout and stochastic depth, record their initial weights and the masks a training step draws, train two
steps and save: the weights must be equal, the masks different, and ``last.pt`` must hold each rank's own RNG
state (so that a resumed run goes on with the same per-rank streams).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import torch

from vitkit.train.distributed import rank_seed
from vitkit.train.state import rng_state_of_rank

WORKER = r"""
import sys, torch
from vitkit.cli.main import build_parser
from vitkit.cli.train import build_spec
from vitkit.train import Trainer
from vitkit.train.distributed import teardown

out, rank = sys.argv[1], int(sys.argv[2])
args = ["train", "ViT-Ti/16", "--data", "digits:train", "--out", out + "/run", "--steps", "2", "--batch-size", "16",
        "--image-size", "16", "--objective", "mpp", "--set", "patch_size=4", "--set", "hidden_size=32",
        "--set", "num_layers=2", "--set", "num_heads=2", "--set", "mlp_dim=64", "--set", "dropout_rate=0.1",
        "--set", "drop_path_rate=0.2", "--set", "log_every=1", "--set", "warmup_steps=1"]
trainer = Trainer(build_spec(build_parser().parse_args(args), model="ViT-Ti/16", init=None))
module = trainer.train_module
init = {k: v.detach().clone() for k, v in module.state_dict().items()}
module.train()
images = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))  # the same images on both ranks
_, _, masked = module(images)  # the MPP corruption (and dropout, stochastic depth) drawn here
tokens = module.vit.forward_features(images)  # dropout and stochastic depth alone (the MPP head starts at zero)
dropout = torch.nn.functional.dropout(torch.ones(512), 0.5)
trainer.run()
torch.save({"init": init, "masked": masked, "tokens": tokens.detach(), "dropout": dropout}, f"{out}/rank{rank}.pt")
teardown()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rank_seeds_differ_by_rank_and_seed_and_are_stable():
    seeds = {(s, r): rank_seed(s, r) for s in range(3) for r in range(4)}
    assert len(set(seeds.values())) == len(seeds)  # seed + rank would collide: (0, 1) and (1, 0)
    assert rank_seed(0, 1) == rank_seed(0, 1) and 0 <= rank_seed(5, 3) < 2**63
    assert rank_seed(0, 1, step=7) != rank_seed(0, 1)


def test_rng_state_of_rank_picks_its_own_or_asks_for_rederivation():
    state = {"rng": "r0", "rng_ranks": ["r0", "r1"]}
    assert rng_state_of_rank(state, 1, 2) == "r1" and rng_state_of_rank(state, 0, 2) == "r0"
    assert rng_state_of_rank(state, 2, 3) is None  # another number of processes
    assert rng_state_of_rank({"rng": "r0"}, 0, 1) == "r0"  # single-process checkpoints, as before
    assert rng_state_of_rank({"rng": "r0"}, 1, 2) is None


@pytest.mark.slow
def test_two_gloo_ranks_draw_different_masks_from_the_same_initial_weights(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1"}
    env["MASTER_PORT"] = str(_free_port())
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path), str(rank)],
            env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    a, b = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2))
    assert a["init"].keys() == b["init"].keys()
    for key in a["init"]:
        assert torch.equal(a["init"][key], b["init"][key]), f"initial {key} differs between ranks"
    assert a["masked"].sum() == b["masked"].sum()  # round(rate * N) per image on both ...
    assert not torch.equal(a["masked"], b["masked"])  # ... at different positions
    assert not torch.equal(a["dropout"], b["dropout"])
    assert not torch.allclose(a["tokens"], b["tokens"])  # same weights, same images: only the draws differ
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    r0, r1 = state["rng_ranks"]
    assert torch.equal(state["rng"]["torch"], r0["torch"]) and not torch.equal(r0["torch"], r1["torch"])
