"""`vitkit reproduce`: experiment configs, the resumable runner over seeds, its report, figures and errors."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vitkit.cli.main import main
from vitkit.data import DataError, open_dataset
from vitkit.reproduce import ExperimentError, builtin_names, load_experiment, run_experiment
from vitkit.reproduce.figures import pareto_front
from vitkit.reproduce.stats import summarize

SRC = Path(__file__).resolve().parents[1] / "src"
PAPER_EXPERIMENTS = {"posemb", "data-scaling", "compute", "hires", "fewshot", "inspect", "mpp", "class-token", "demo"}

TINY = """
name = "tiny"
claim = "a pipeline check"
metrics = ["top1"]

[templates.vit]
model = "ViT-Ti/16"
data = "digits:train"
test = "digits:test"
image_size = 8
set = {{patch_size = 2, hidden_size = 16, num_layers = 1, num_heads = 2, mlp_dim = 32, steps = {steps}, \
batch_size = 32, warmup_steps = 2, log_every = 2, checkpoint_every = 3}}

[[run]]
name = "cls-{{classifier}}"
use = "vit"
vary = {{classifier = ["gap", "token"]}}

[[run]]
name = "probe"
kind = "fewshot"
from = "cls-token"
data = "digits:train"
test = "digits:test"
shots = 2

[[compare]]
a = "cls-gap"
b = "cls-token"
on = "digits:test"

[[target]]
run = "cls-gap"
metric = "top1"
at_least = 0.0

[[target]]
compare = ["cls-gap", "cls-token"]

[[figure]]
kind = "bar"
file = "bar.png"
metric = "top1"

[[figure]]
kind = "line"
file = "compute.png"
metric = "top1"
x = "train_flops"
pareto = true
"""


def tiny(tmp_path: Path, steps: int = 4) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY.format(steps=steps))
    return path


def is_png(path: Path) -> bool:
    from PIL import Image

    if path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        return False
    with Image.open(path) as im:
        im.verify()
    return True


# ----------------------------------------------------------------------------------------- configs


@pytest.mark.parametrize("budget", ["small", "full"])
def test_every_builtin_experiment_validates(budget):
    assert set(builtin_names()) == PAPER_EXPERIMENTS
    for name in builtin_names():
        exp = load_experiment(name, budget)  # parses, expands the grid, builds every model config and recipe
        assert exp.name == name and exp.runs and exp.claim and exp.figures
        for run in exp.runs:
            if run.parent:
                assert exp.runs.index(exp.run(run.parent)) < exp.runs.index(run)


def test_posemb_grid_is_the_papers():
    exp = load_experiment("posemb")
    names = {r.name for r in exp.runs}
    assert {"none", "relative", "learned_1d@stem", "learned_2d@every_layer_shared"} <= names and len(names) == 8
    assert exp.run("learned_2d@every_layer").get("set")["posemb_at"] == "every_layer"


def test_budgets_differ_and_subsets_are_nested_specs():
    small, full = load_experiment("data-scaling", "small"), load_experiment("data-scaling", "full")
    assert small.run("vit@1000").get("data") == "fashion-mnist:train@1000"
    assert small.run("vit@1000").get("set")["steps"] < full.run("vit@1000").get("set")["steps"]
    assert "vit@60000" in {r.name for r in full.runs} and "vit@60000" not in {r.name for r in small.runs}


@pytest.mark.parametrize(
    "change, message",
    [
        ('name = "cls-{classifier}"', None),
        ('model = "ViT-Q/16"', "unknown variant"),
        ('from = "nowhere"', "is not an earlier run"),
        ('data = "digits:dev"', "unknown split"),
        ("bogus = 1", "unknown field 'bogus'"),
        ('recipe = "nope"', "unknown 'nope'"),
    ],
)
def test_bad_config_is_one_line_naming_the_run(tmp_path, change, message):
    text = TINY.format(steps=4)
    if message is not None:
        text = text.replace('name = "cls-{classifier}"\n', f'name = "cls-{{classifier}}"\n{change}\n', 1)
        if change.startswith("model"):
            text = text.replace('model = "ViT-Ti/16"\n', "", 1)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    if message is None:
        load_experiment(str(path))
        return
    with pytest.raises(ExperimentError, match=message) as e:
        load_experiment(str(path))
    assert "\n" not in str(e.value) and "cls-" in str(e.value)


@pytest.mark.parametrize(
    "extra, message",
    [
        ('[[compare]]\na = "cls-gap"\nb = "nowhere"\non = "digits:test"', "b = 'nowhere' is not a run"),
        ('[[compare]]\na = "cls-gap"\nb = "cls-token"', "expected exactly the fields a, b, on"),
        ('[[target]]\ncompare = ["cls-token", "cls-gap"]', "must name a [[compare]] entry"),
        ('[[target]]\nrun = "cls-gap"\nmetric = "top1"\nat_least = "high"', "at_least must be a number"),
        ('[[run]]\nname = "x"\nbudgets = ["large"]\nuse = "vit"', "budgets = ['large']"),
    ],
)
def test_bad_comparisons_targets_and_budgets_are_one_line(tmp_path, extra, message):
    path = tmp_path / "bad.toml"
    path.write_text(TINY.format(steps=4) + "\n" + extra + "\n")
    with pytest.raises(ExperimentError, match=re.escape(message)) as e:
        load_experiment(str(path))
    assert "\n" not in str(e.value)


def test_a_run_can_be_limited_to_one_budget(tmp_path):
    path = tmp_path / "budgets.toml"
    path.write_text(TINY.format(steps=4) + '\n[[run]]\nname = "long"\nuse = "vit"\nbudgets = ["full"]\n')
    assert "long" not in {r.name for r in load_experiment(str(path), "small").runs}
    assert "long" in {r.name for r in load_experiment(str(path), "full").runs}


def test_seeded_may_differ_by_budget(tmp_path):
    path = tmp_path / "seeded.toml"
    once = '[[run]]\nname = "once"\nuse = "vit"\nseeded = {small = false, full = true}\n'
    path.write_text(TINY.format(steps=4) + "\n" + once)
    assert not load_experiment(str(path), "small").run("once").seeded
    assert load_experiment(str(path), "full").run("once").seeded


def test_the_demo_is_declared_as_an_experiment():
    small, full = load_experiment("demo", "small"), load_experiment("demo", "full")
    assert [c["b"] for c in full.comparisons if c["a"] == "finetune-mpp"] == ["scratch", "finetune"]
    assert [(c["a"], c["b"]) for c in small.comparisons] == [("finetune-mpp", "scratch")]  # budgets = ["full"]
    assert "finetune" not in {r.name for r in small.runs} and small.run("scratch").seeded
    # the 10-minute budget: 7x7 patches and fine-tuning at 56 px; the full one: 4x4 patches at 40 px
    assert small.run("scratch").get("set")["patch_size"] == 7 and small.run("finetune-mpp").get("image_size") == 56
    assert full.run("scratch").get("set")["patch_size"] == 4 and full.run("finetune-mpp").get("image_size") == 40
    for exp in (small, full):
        assert {"run": "pretrain", "metric": "top1", "at_least": 0.87} in exp.targets
        assert not exp.run("pretrain").seeded and exp.run("finetune-mpp").parent == "pretrain-mpp"
    assert full.run("finetune-mpp").get("set")["steps"] == 1200 and full.run("pretrain").get("set")["epochs"] == 6


# ------------------------------------------------------------------------------------------ runner


@pytest.mark.slow
def test_runner_writes_report_and_skips_finished_runs(tmp_path):
    exp = load_experiment(str(tiny(tmp_path)))
    out = tmp_path / "out"
    first = run_experiment(exp, out, seeds=2, log=lambda _: None)
    assert (first.executed, first.skipped) == (6, 0)  # 3 runs x 2 seeds

    results = json.loads((out / "results.json").read_text())
    top1 = results["runs"]["cls-gap"]["summary"]["top1"]
    per_seed = [r["top1"] for r in results["runs"]["cls-gap"]["per_seed"]]
    assert top1["n"] == 2 and top1["values"] == per_seed
    assert top1["std"] == pytest.approx(np.std(per_seed, ddof=1)) and top1["se"] == pytest.approx(top1["std"] / 2**0.5)
    # seed 1's run is a different run than seed 0's (its own folder, its own seed in config.json)
    assert json.loads((out / "cls-gap" / "s1" / "config.json").read_text())["seed"] == 1
    assert results["runs"]["probe"]["summary"]["top1"]["n"] == 2
    assert results["runs"]["cls-gap"]["summary"]["train_flops"]["mean"] > 0

    table = (out / "table.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| cls-gap |"))
    assert row.split("|")[2].strip() == "2" and f"{top1['mean']:.4f} ± {top1['std']:.4f}" in row
    assert f"{top1['se']:.4f}" in row
    for name in ("bar.png", "compute.png"):
        assert is_png(out / name), name
    assert results["figures"] == ["bar.png", "compute.png"]

    # the declared paired comparison: recounted image by image, it agrees with each run's own test top-1
    cmp = results["comparisons"]["cls-gap vs cls-token"]
    assert cmp["seeds"] == [0, 1] and cmp["on"] == "digits:test"
    token = [r["top1"] for r in results["runs"]["cls-token"]["per_seed"]]
    for seed, p in enumerate(cmp["per_seed"]):
        assert (p["top1_a"], p["top1_b"]) == (pytest.approx(per_seed[seed]), pytest.approx(token[seed]))
    assert cmp["diff"] == pytest.approx(np.mean(per_seed) - np.mean(token))
    level, paired = results["targets"]
    assert level["met"] is True and level["value"] == pytest.approx(np.mean(per_seed))
    assert paired["value"] == pytest.approx(cmp["ci95"][0]) and paired["met"] == (cmp["ci95"][0] > 0)
    assert "cls-gap vs cls-token on digits:test" in table and "Targets:" in table

    again = run_experiment(exp, out, seeds=2, log=lambda _: None)
    assert (again.executed, again.skipped) == (0, 6)
    partial = run_experiment(exp, out, seeds=3, log=lambda _: None, report_only=True)
    assert (partial.executed, partial.skipped) == (0, 6)
    assert json.loads((out / "results.json").read_text())["runs"]["cls-gap"]["summary"]["top1"]["n"] == 2
    more = run_experiment(exp, out, seeds=3, log=lambda _: None)  # a third seed runs only the third seed
    assert (more.executed, more.skipped) == (3, 6)


@pytest.mark.slow
def test_a_killed_grid_goes_on_where_it_was(tmp_path, capsys):
    config, out = tiny(tmp_path, steps=30), tmp_path / "out"
    cmd = [sys.executable, "-m", "vitkit", "reproduce", str(config), "--seeds", "1", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    # kill it once the first run has finished and the second has checkpointed part of its steps
    while not (out / "cls-token" / "s0" / "last.pt").is_file() and time.monotonic() < deadline:
        assert proc.poll() is None, "the grid finished before it could be killed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (out / "cls-gap" / "s0" / "result.json").is_file()
    assert not (out / "cls-token" / "s0" / "result.json").is_file()

    exp = load_experiment(str(config))
    lines: list[str] = []
    progress = run_experiment(exp, out, seeds=1, log=lines.append)
    assert (progress.executed, progress.skipped) == (2, 1) and lines[0].startswith("[2/3] tiny: cls-token")
    assert "resumed" in capsys.readouterr().err  # the half-finished run went on from its own checkpoint
    results = json.loads((out / "results.json").read_text())
    assert all(len(r["per_seed"]) == 1 for r in results["runs"].values())
    assert results["runs"]["cls-token"]["per_seed"][0]["steps"] == 30


def test_a_worker_skips_runs_claimed_by_another_and_waits_for_them(tmp_path):
    """Another worker (here: this test) holds cls-gap's claim: the worker runs the rest, then waits for it."""
    import threading

    from vitkit.reproduce.claims import claim, claim_path
    from vitkit.reproduce.grid import work

    exp, out = load_experiment(str(tiny(tmp_path))), tmp_path / "out"
    lines: list[str] = []
    done: list[int] = []
    with claim(claim_path(out, "cls-gap", 0)) as mine:
        assert mine
        worker = threading.Thread(target=lambda: done.append(work(exp, out, 1, None, lines.append, poll=0.05)))
        worker.start()
        probe = out / "probe" / "s0" / "result.json"
        deadline = time.monotonic() + 120
        while not probe.is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert probe.is_file() and worker.is_alive()  # it ran cls-token and its probe, and waits for cls-gap
        with claim(claim_path(out, "cls-token", 0)) as free:
            assert free  # the worker released the claims of the runs it finished
        # the holder of cls-gap's claim finishes it: the worker sees the result and stops
        (out / "cls-gap" / "s0").mkdir(parents=True)
        (out / "cls-gap" / "s0" / "result.json").write_text('{"top1": 0.5}')
        worker.join(60)
    assert done == [2] and [line.split(":")[1] for line in lines] == [" cls-token seed 0", " probe seed 0"]
    assert lines[0].startswith("[2/3]")


def test_tagged_output_starts_every_line_with_the_worker_and_its_run(capsys):
    import sys

    from vitkit.reproduce.tagged_output import tagged_output

    with tagged_output("w1 ") as set_label:
        print("idle")
        set_label("gap/s2 ")
        sys.stderr.write("[train] step 1\n[train] st")
        sys.stderr.write("ep 2\n")
        assert not sys.stderr.isatty()  # no progress bars from several processes on one terminal
        set_label("")
        print("a\nb")
    print("after")
    captured = capsys.readouterr()
    assert captured.out == "w1 idle\nw1 a\nw1 b\nafter\n"
    assert captured.err == "w1 gap/s2 [train] step 1\nw1 gap/s2 [train] step 2\n"


def test_parents_first_starts_every_seeds_pretraining_before_the_rest(tmp_path):
    from vitkit.reproduce.grid import work

    exp, lines = load_experiment(str(tiny(tmp_path, steps=2))), []
    assert work(exp, tmp_path / "out", 2, None, lines.append, parents_first=True) == 6
    order = [line.split(": ")[1] for line in lines]
    assert order[:2] == ["cls-token seed 0", "cls-token seed 1"]  # probe's from-run, both seeds
    assert order[2:] == ["cls-gap seed 0", "probe seed 0", "cls-gap seed 1", "probe seed 1"]


def test_a_claim_is_released_when_its_holder_is_killed(tmp_path):
    from vitkit.reproduce.claims import claim

    path = tmp_path / ".claims" / "run" / "s0.lock"
    path.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from filelock import FileLock; import time; lock = FileLock({str(path)!r}); lock.acquire(); "
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with claim(path) as mine:
        assert not mine
    holder.kill()
    holder.wait()
    with claim(path) as mine:
        assert mine


@pytest.mark.slow
def test_two_worker_processes_run_each_run_once(tmp_path, capfd):
    exp, out = load_experiment(str(tiny(tmp_path, steps=20))), tmp_path / "out"
    progress = run_experiment(exp, out, seeds=2, workers=2, log=lambda _: None)
    assert (progress.executed, progress.skipped) == (6, 0)  # no run executed twice, none left out
    captured = capfd.readouterr()
    logged = [line for line in captured.out.splitlines() if "] tiny: " in line]
    assert len(logged) == 6 and {line.split()[0] for line in logged} <= {"w0", "w1"}
    # the trainers' progress lines (stderr) name the worker and the run they come from
    trained = [line for line in captured.err.splitlines() if "[test] step 20/20" in line]
    assert len(trained) == 4 and all(re.match(r"w[01] cls-(token|gap)/s[01] \[test\]", t) for t in trained)
    results = json.loads((out / "results.json").read_text())
    assert all(r["summary"]["top1"]["n"] == 2 for r in results["runs"].values())
    assert all(r["per_seed"][0]["steps"] == 20 for name, r in results["runs"].items() if name != "probe")


@pytest.mark.slow
def test_torchrun_ranks_are_grid_workers(tmp_path):
    config, out = tiny(tmp_path, steps=10), tmp_path / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "0"]
    cmd += ["-m", "vitkit", "reproduce", str(config), "--seeds", "2", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    executed = [int(m) for m in re.findall(r"(\d+) run\(s\) executed", proc.stdout)]
    executed += [int(m) for m in re.findall(r"rank 1 executed (\d+) run", proc.stdout)]
    assert sum(executed) == 6 and len(executed) == 2, proc.stdout
    results = json.loads((out / "results.json").read_text())  # rank 0's report: every run, both seeds
    assert all(r["summary"]["top1"]["n"] == 2 for r in results["runs"].values())
    # the ranks' trainings ran as single processes, not as one distributed job
    assert json.loads((out / "cls-gap" / "s1" / "result.json").read_text())["steps"] == 10


# --------------------------------------------------------------------------------------------- CLI


def test_list_names_every_experiment_with_its_size(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in PAPER_EXPERIMENTS)
    assert main(["reproduce", "--list", "--budget", "full"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("hires "))
    assert row.split()[2:4] == ["3", str(5600 + 2 * 1200)]  # pre-training + two fine-tunings per seed


def test_unknown_experiment_names_the_closest(capsys):
    assert main(["reproduce", "posmeb"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'posmeb'" in err and "did you mean 'posemb'" in err


def test_bad_seeds_and_missing_name_are_errors(capsys):
    assert main(["reproduce", "posemb", "--seeds", "0"]) == 2
    assert main(["reproduce"]) == 2
    assert "--list" in capsys.readouterr().err


# ----------------------------------------------------------------------------------- small pieces


def test_summary_matches_numpy():
    values = [0.81, 0.84, 0.79, 0.86]
    s = summarize(values)
    assert s["mean"] == pytest.approx(np.mean(values), abs=1e-15)
    assert s["std"] == pytest.approx(np.std(values, ddof=1), abs=1e-15)
    assert s["se"] == pytest.approx(np.std(values, ddof=1) / 2, abs=1e-15) and s["n"] == 4
    assert summarize([0.5])["std"] is None


def test_pareto_front_keeps_points_no_cheaper_point_beats():
    points = [(1, 0.5), (2, 0.4), (3, 0.7), (4, 0.7), (5, 0.9)]
    assert pareto_front(points) == [(1, 0.5), (3, 0.7), (5, 0.9)]


def test_nested_subsets_of_a_data_set():
    small, large, full = (open_dataset(s) for s in ("digits:train@100", "digits:train@400", "digits:train"))
    assert len(small) == 100 and len(large) == 400
    rows = {bytes(np.asarray(full.images[i]).tobytes()) for i in range(len(full))}

    def as_set(d):
        return {bytes(np.asarray(d.images[i]).tobytes()) for i in range(len(d))}

    assert as_set(small) <= as_set(large) <= rows
    assert len(set(small.labels.tolist())) == 10  # a random, not a sorted, prefix
    for bad in ("digits:train@0", f"digits:train@{len(full) + 1}"):
        with pytest.raises(DataError, match="@"):
            open_dataset(bad)


def test_a_diverged_run_is_recorded_not_fatal(tmp_path):
    path = tmp_path / "hot.toml"
    path.write_text(TINY.format(steps=4).replace("warmup_steps = 2,", "warmup_steps = 0, lr = 1e30,"))
    out = tmp_path / "out"
    progress = run_experiment(load_experiment(str(path)), out, seeds=1, log=lambda _: None)
    assert progress.executed == 3
    results = json.loads((out / "results.json").read_text())
    assert "loss is" in results["runs"]["cls-gap"]["per_seed"][0]["error"]
    assert results["runs"]["probe"]["per_seed"][0]["error"] == "cls-token diverged"
    assert "Diverged" in (out / "table.md").read_text() and "cls-gap seed 0" in (out / "table.md").read_text()


def test_a_bit_resnet_trains_under_the_pretrain_recipe(tmp_path):
    """The recipe's dropout applies to ViTs; a BiT ResNet (no dropout option) trains under it as well."""
    from vitkit.train import TrainSpec, get_recipe, train

    recipe = get_recipe("pretrain", steps=2, epochs=None, batch_size=16, warmup_steps=1, dropout_rate=0.1)
    resnet = {"num_layers": (1,), "width_factor": 0.25, "unit": "pre_act", "padding": "fixed", "gn_groups": 8}
    summary = train(
        TrainSpec(
            out=str(tmp_path / "r"),
            data="digits:train",
            test="digits:test",
            model="BiT-R50x1",
            recipe=recipe,
            model_overrides={"resnet": resnet},
            image_size=16,
        )
    )
    assert summary["steps"] == 2 and 0.0 <= summary["test_top1"] <= 1.0
