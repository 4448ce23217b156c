"""Checkpoints by name (vitkit.hub): download, resume, verify, cache, offline, labels, errors.

No network: a local server (tests/hub_server.py) serves the official fixtures under the official bucket's
paths, a registry file (VITKIT_REGISTRY) names them, and VITKIT_HUB_URL points vitkit at the server.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import vitkit
from vitkit.cli.main import main as cli
from vitkit.hub import HubError
from vitkit.hub import download as download_module

SRC = Path(__file__).resolve().parents[1] / "src"
TINY = {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "mlp_dim": 128, "patch_size": 4}
NAME = "ViT-Ti/4:test-imagenet21k+imagenet2012@32"
BUCKET_PATH = "vit_models/imagenet21k+imagenet2012/ViT-Ti_4-test.npz"  # '+' as in the real bucket


def entry(path: str, data: bytes | None = None, *, sha: bool = True, size: bool = True, **fields: object) -> dict:
    """A registry entry for the tiny fixture ViT (hidden 64, 2 layers, patch 4, 32 px, 10 classes)."""
    official = {
        "path": path,
        "size": len(data) if size and data else None,
        "sha256": hashlib.sha256(data).hexdigest() if sha and data else None,
    }
    base = {
        "arch": "ViT-Ti/16",
        "arch_overrides": TINY,
        "resolution": 32,
        "data": "test data",
        "labels": "none",
        "num_classes": 10,
        "official": official,
        "default": True,
    }
    return {**base, **fields}


@pytest.fixture
def npz_bytes(fixtures_dir: Path) -> bytes:
    return (fixtures_dir / "vit_token_p4_32.params_prelinen.npz").read_bytes()


def write_registry(b, models: dict[str, dict]) -> None:
    b.registry.write_text(json.dumps({"models": models}))


def cached_file(b, path: str = BUCKET_PATH) -> Path:
    return b.home / "official" / path


def test_download_and_load_by_name_equals_the_file(bucket, npz_bytes, fixtures_dir, capsys) -> None:
    bucket.add(BUCKET_PATH, npz_bytes)
    write_registry(bucket, {NAME: entry(BUCKET_PATH, npz_bytes)})
    model = vitkit.load(NAME)
    err = capsys.readouterr().err
    assert "ViT-Ti_4-test.npz" in err and "100%" in err  # the tqdm bar
    assert bucket.served[BUCKET_PATH] == len(npz_bytes)
    assert cached_file(bucket).read_bytes() == npz_bytes
    reference = vitkit.load(fixtures_dir / "vit_token_p4_32.params_prelinen.npz")
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(model(x), reference(x), rtol=0, atol=0)
    vitkit.load(NAME.split("@")[0])  # without @RES: the default entry; from the cache, no second download
    assert bucket.served[BUCKET_PATH] == len(npz_bytes)


def test_resume_after_dropped_connection_fetches_only_the_rest(bucket, npz_bytes) -> None:
    bucket.add(BUCKET_PATH, npz_bytes)
    write_registry(bucket, {NAME: entry(BUCKET_PATH, npz_bytes)})
    cut = 100_000
    bucket.mode[BUCKET_PATH] = f"drop:{cut}"
    with pytest.raises(HubError, match="interrupted after 100000 .*resume"):
        vitkit.hub.fetch_name(NAME)
    assert not cached_file(bucket).exists()
    assert cached_file(bucket).with_name("ViT-Ti_4-test.npz.part").stat().st_size == cut
    bucket.mode[BUCKET_PATH] = "ok"
    bucket.served.clear()
    got = vitkit.hub.fetch_name(NAME)
    assert bucket.ranges[-1] == (BUCKET_PATH, f"bytes={cut}-")
    assert bucket.served[BUCKET_PATH] == len(npz_bytes) - cut  # only the rest
    assert got.path.read_bytes() == npz_bytes
    assert not got.path.with_name(got.path.name + ".part").exists()


def test_a_whole_part_file_left_behind_is_fetched_again(bucket, npz_bytes) -> None:
    """Killed between the last byte and the rename: the server refuses the range (416); start over."""
    bucket.add(BUCKET_PATH, npz_bytes)
    write_registry(bucket, {NAME: entry(BUCKET_PATH, npz_bytes)})
    part = cached_file(bucket).with_name("ViT-Ti_4-test.npz.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(npz_bytes)
    assert vitkit.hub.fetch_name(NAME).path.read_bytes() == npz_bytes
    assert [r["range"] for r in bucket.requests] == [f"bytes={len(npz_bytes)}-", None]


def test_corrupt_download_is_refused_by_sha256_and_not_kept(bucket, npz_bytes) -> None:
    bad = bytearray(npz_bytes)
    bad[len(bad) // 2] ^= 0xFF  # same size, one byte flipped
    bucket.add(BUCKET_PATH, bytes(bad))
    write_registry(bucket, {NAME: entry(BUCKET_PATH, npz_bytes)})
    with pytest.raises(HubError, match="sha256 .* differs from the registry's") as e:
        vitkit.load(NAME)
    assert "\n" not in str(e.value)
    assert not any(p.is_file() and not p.name.endswith(".lock") for p in bucket.home.rglob("*"))


def test_first_download_records_sha256_and_a_later_different_file_is_refused(bucket, npz_bytes) -> None:
    bucket.add(BUCKET_PATH, npz_bytes)
    write_registry(bucket, {NAME: entry(BUCKET_PATH, npz_bytes, sha=False, size=False)})
    got = vitkit.hub.fetch_name(NAME)
    recorded = json.loads(got.path.with_name(got.path.name + ".sha256.json").read_text())
    assert recorded["sha256"] == hashlib.sha256(npz_bytes).hexdigest()
    got.path.unlink()  # the file goes; the record stays
    bad = bytearray(npz_bytes)
    bad[-100] ^= 0xFF
    bucket.files[BUCKET_PATH] = bytes(bad)
    with pytest.raises(HubError, match="differs from the one recorded at the first download"):
        vitkit.hub.fetch_name(NAME)
    assert not got.path.exists()


def test_a_cached_file_changed_on_disk_is_fetched_again(bucket, npz_bytes) -> None:
    bucket.add(BUCKET_PATH, npz_bytes)
    write_registry(bucket, {NAME: entry(BUCKET_PATH, npz_bytes)})
    path = vitkit.hub.fetch_name(NAME).path
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF
    path.write_bytes(bytes(data))
    assert vitkit.hub.fetch_name(NAME).path.read_bytes() == npz_bytes
    assert bucket.served[BUCKET_PATH] == 2 * len(npz_bytes)


@pytest.mark.parametrize("switch", ["VITKIT_OFFLINE", "HF_HUB_OFFLINE"])
def test_offline_uses_the_cache_or_fails_in_one_line(bucket, npz_bytes, monkeypatch, switch) -> None:
    bucket.add(BUCKET_PATH, npz_bytes)
    write_registry(bucket, {NAME: entry(BUCKET_PATH, npz_bytes)})
    monkeypatch.setenv(switch, "1")
    with pytest.raises(HubError) as e:
        vitkit.load(NAME)
    message = str(e.value)
    assert "\n" not in message and "offline" in message and str(cached_file(bucket)) in message
    assert "%2B" in message or "+" in message  # the URL to fetch is named
    assert bucket.served == {}  # no network
    monkeypatch.delenv(switch)
    vitkit.hub.fetch_name(NAME)
    monkeypatch.setenv(switch, "1")
    bucket.served.clear()
    assert vitkit.load(NAME).config.hidden_size == 64
    assert bucket.served == {}


@pytest.mark.parametrize(
    "mode,expected",
    [("404", "answered 404"), ("500", "answered 500"), ("html", "HTML page"), ("html-as-binary", "HTML page")],
)
def test_server_errors_are_one_line_and_nothing_is_cached(bucket, npz_bytes, mode, expected) -> None:
    bucket.add(BUCKET_PATH, npz_bytes)
    bucket.mode[BUCKET_PATH] = mode
    write_registry(bucket, {NAME: entry(BUCKET_PATH, npz_bytes, sha=False, size=False)})
    with pytest.raises(HubError, match=expected) as e:
        vitkit.load(NAME)
    assert "\n" not in str(e.value) and "nothing cached" in str(e.value)
    assert not any(p.is_file() and not p.name.endswith(".lock") for p in bucket.home.rglob("*"))


def test_unknown_name_names_the_closest(bucket) -> None:
    write_registry(bucket, {})
    with pytest.raises(HubError) as e:
        vitkit.load("ViT-B/16:imagenet21k+imagenet2013@384")
    message = str(e.value)
    assert "\n" not in message and "unknown checkpoint name" in message
    assert "ViT-B/16:imagenet21k+imagenet2012@384" in message


def test_cli_errors_are_one_line(bucket, capsys) -> None:
    write_registry(bucket, {})
    assert cli(["info", "ViT-B/16:imagenet22k"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("vitkit info: error: unknown checkpoint name")


def test_a_file_of_another_architecture_is_refused_naming_both(bucket, npz_bytes) -> None:
    bucket.add(BUCKET_PATH, npz_bytes)
    write_registry(bucket, {NAME: entry(BUCKET_PATH, npz_bytes, arch_overrides={**TINY, "num_layers": 3})})
    with pytest.raises(
        HubError, match=r"registry says ViT-Ti/16 \(hidden 64, 3 layers.*the file holds hidden 64, 2 layers"
    ):
        vitkit.load(NAME)


@pytest.mark.parametrize("code,expected", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only")])
def test_disk_full_or_read_only_cache_is_one_line(bucket, npz_bytes, monkeypatch, code, expected) -> None:
    bucket.add(BUCKET_PATH, npz_bytes)
    write_registry(bucket, {NAME: entry(BUCKET_PATH, npz_bytes)})

    class Failing(io.BytesIO):
        def write(self, data: bytes) -> int:
            raise OSError(code, os.strerror(code))

    real_open = open
    monkeypatch.setattr(
        download_module,
        "open",
        lambda p, mode="r", *a, **k: (
            Failing() if "b" in mode and ("w" in mode or "a" in mode) else real_open(p, mode, *a, **k)
        ),
        raising=False,
    )
    with pytest.raises(HubError, match=f"cannot write the checkpoint cache at .*{expected}.*VITKIT_HOME") as e:
        vitkit.hub.fetch_name(NAME)
    assert "\n" not in str(e.value)
    assert not cached_file(bucket).exists()


@pytest.mark.slow
def test_two_processes_downloading_at_once_end_with_one_good_file(bucket, npz_bytes) -> None:
    """Whichever process locks first holds the download (the server gates it) until the other says it waits."""
    bucket.add(BUCKET_PATH, npz_bytes)
    bucket.mode[BUCKET_PATH] = "gated"
    write_registry(bucket, {NAME: entry(BUCKET_PATH, npz_bytes)})
    env = {**os.environ, "PYTHONPATH": str(SRC), "VITKIT_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "vitkit", "pretrained", "--download", NAME]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"]
    errs: list[list[str]] = [[], []]
    readers = [threading.Thread(target=lambda p=p, e=e: e.extend(p.stderr), daemon=True) for p, e in zip(procs, errs)]
    for r in readers:
        r.start()
    _wait_for(lambda: any("waiting for another process" in line for e in errs for line in e), procs)
    bucket.gate.set()
    outs = [p.stdout.read() for p in procs]
    assert [p.wait(timeout=120) for p in procs] == [0, 0], (outs, errs)
    assert len(bucket.ranges) == 1 and bucket.served[BUCKET_PATH] == len(npz_bytes)  # one download
    assert all(str(cached_file(bucket)) in out for out in outs)
    assert cached_file(bucket).read_bytes() == npz_bytes
    assert sorted(p.name for p in cached_file(bucket).parent.iterdir()) == [
        "ViT-Ti_4-test.npz",
        "ViT-Ti_4-test.npz.lock",
        "ViT-Ti_4-test.npz.sha256.json",
    ]


def _wait_for(condition, procs: list[subprocess.Popen], timeout: float = 90) -> None:
    import time

    end = time.monotonic() + timeout
    while not condition():
        assert all(p.poll() is None for p in procs), "a process ended before the other waited on the lock"
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_pretrained_lists_names_sources_and_cache_state(bucket, npz_bytes, fixtures_dir, capsys) -> None:
    bucket.add(BUCKET_PATH, npz_bytes)
    write_registry(bucket, {NAME: entry(BUCKET_PATH, npz_bytes)})
    assert cli(["pretrained", "--filter", "test-imagenet", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["cached"] is None and row["resolution"] == 32 and row["sources"] == ["official"]
    fixture = vitkit.load(fixtures_dir / "vit_token_p4_32.params_prelinen.npz")
    assert row["params"] == sum(p.numel() for p in fixture.parameters())
    assert cli(["pretrained", "--download", NAME]) == 0
    assert str(cached_file(bucket)) in capsys.readouterr().out
    assert cli(["pretrained", "--filter", "test-imagenet"]) == 0
    out = capsys.readouterr().out
    assert NAME in out and out.strip().endswith("official")
    assert cli(["pretrained", "--filter", "ViT-B/16:imagenet21k+imagenet2012@384", "--json"]) == 0
    (shipped,) = [
        r for r in json.loads(capsys.readouterr().out) if r["name"] == "ViT-B/16:imagenet21k+imagenet2012@384"
    ]
    assert shipped["sources"] == ["official", "timm", "hf"] and shipped["params"] == 86_859_496


# ---- labels, and the Hugging Face copies (timm: and hf: names, fallbacks) ------------------------------------


def npz_with_head(fixtures_dir: Path, classes: int) -> bytes:
    """The fixture in the official layout with a ``classes``-way head (random), as published checkpoints have."""
    with np.load(fixtures_dir / "vit_token_p4_32.params_prelinen.npz") as z:
        params = dict(z)
    rng = np.random.default_rng(0)
    params["head/kernel"] = rng.normal(size=(64, classes)).astype(np.float32)
    params["head/bias"] = rng.normal(size=(classes,)).astype(np.float32)
    buf = io.BytesIO()
    np.savez(buf, **params)
    return buf.getvalue()


def test_predict_by_name_prints_imagenet_class_names(bucket, fixtures_dir, tmp_path, capsys) -> None:
    from PIL import Image
    from torchvision.models import ViT_B_16_Weights

    data = npz_with_head(fixtures_dir, 1000)
    bucket.add(BUCKET_PATH, data)
    write_registry(bucket, {NAME: entry(BUCKET_PATH, data, labels="imagenet1k", num_classes=1000)})
    image = tmp_path / "cat.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (48, 40, 3), dtype=np.uint8)).save(image)
    assert cli(["predict", NAME.split("@")[0], str(image), "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    names = ViT_B_16_Weights.IMAGENET1K_V1.meta["categories"]
    assert len(result["top"]) == 5
    assert [t["class"] for t in result["top"]] == [names[t["index"]] for t in result["top"]]
    assert cli(["predict", NAME, str(image)]) == 0
    assert result["top"][0]["class"] in capsys.readouterr().out


def test_imagenet21k_heads_get_the_synset_names_or_a_note(bucket, fixtures_dir, monkeypatch, capsys) -> None:
    pytest.importorskip("timm")
    data = npz_with_head(fixtures_dir, 21843)
    bucket.add(BUCKET_PATH, data)
    write_registry(bucket, {NAME: entry(BUCKET_PATH, data, labels="imagenet21k", num_classes=21843)})
    model = vitkit.load(NAME)
    assert len(model.classes) == 21843 and model.classes[0] == "organism" and model.classes[1] == "benthos"
    from vitkit.hub import labels

    monkeypatch.setattr(labels, "imagenet21k", lambda: None)  # as without timm installed
    assert vitkit.load(NAME).classes is None
    assert "predictions show class indices" in capsys.readouterr().err


def tiny_timm_model(num_classes: int = 1000, **kwargs: object):
    """A small timm ViT (``act_layer="gelu_tanh"``: the authors' activation, as a registry name runs timm's copy)."""
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    return timm.create_model(
        "vit_tiny_patch16_224",
        pretrained=False,
        img_size=32,
        patch_size=4,
        embed_dim=64,
        depth=2,
        num_heads=4,
        mlp_ratio=2.0,
        num_classes=num_classes,
        **kwargs,
    ).eval()


def hf_cache_repo(cache: Path, repo: str, files: dict[str, bytes]) -> Path:
    """A repo in huggingface_hub's cache layout (refs/main -> snapshots/COMMIT/FILES), as a download leaves it."""
    commit = hashlib.sha1(repo.encode()).hexdigest()
    folder = cache / f"models--{repo.replace('/', '--')}"
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)
    for name, data in files.items():
        (snapshot / name).write_bytes(data)
    return snapshot


def safetensors_bytes(model: torch.nn.Module) -> bytes:
    from safetensors.torch import save

    return save({k: v.contiguous() for k, v in model.state_dict().items()})


def test_timm_name_loads_timms_copy_from_the_hf_cache(bucket, tmp_path, monkeypatch) -> None:
    reference = tiny_timm_model()
    tid = "vit_tiny_patch16_224.augreg_in21k_ft_in1k"
    hf_cache_repo(tmp_path / "hf", f"timm/{tid}", {"model.safetensors": safetensors_bytes(reference)})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = vitkit.load(f"timm:{tid}", num_heads=4)  # a non-standard width: timm files do not record heads
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-5)
    assert model.classes[:2] == ["tench", "goldfish"]  # an ..._in1k tag: ImageNet-1k names


def test_registry_name_falls_back_to_the_timm_copy_and_names_every_source_when_all_fail(
    bucket, npz_bytes, tmp_path, monkeypatch
) -> None:
    tid = "vit_tiny_patch16_224.test_in1k"
    write_registry(bucket, {NAME: entry(BUCKET_PATH, npz_bytes, timm=tid, hf="google/vit-tiny-test", num_classes=1000)})
    with pytest.raises(HubError) as e:  # the bucket has no such file; the fake HF endpoint has nothing either
        vitkit.load(NAME)
    message = str(e.value)
    assert "\n" not in message and "every source failed" in message
    assert "ViT-Ti_4-test.npz: the server answered 404" in message
    assert f"timm/{tid}" in message and "hf:google/vit-tiny-test" in message
    reference = tiny_timm_model(act_layer="gelu_tanh")
    hf_cache_repo(tmp_path / "hf", f"timm/{tid}", {"model.safetensors": safetensors_bytes(reference)})
    monkeypatch.setenv("VITKIT_OFFLINE", "1")  # the official file is not cached: the timm copy is
    model = vitkit.load(NAME)
    assert model.info.extra["hub"]["source"] == f"timm:timm/{tid}"
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-5)


def test_an_unresolvable_hub_is_not_retried_and_its_cache_still_serves(
    bucket, npz_bytes, tmp_path, monkeypatch
) -> None:
    """No DNS (no network): huggingface_hub would retry each file for ~23 s; vitkit reads the cache at once."""
    tid = "vit_tiny_patch16_224.test_in1k"
    write_registry(bucket, {NAME: entry(BUCKET_PATH, npz_bytes, timm=tid, hf="google/vit-tiny-test", num_classes=1000)})
    monkeypatch.setenv("HF_ENDPOINT", "http://hub.invalid")  # RFC 6761: .invalid never resolves
    with pytest.raises(HubError) as e:
        vitkit.load(NAME)
    message = str(e.value)
    assert "\n" not in message and "every source failed" in message
    assert (
        f"timm:timm/{tid}: model.safetensors is not in the Hugging Face cache, and hub.invalid cannot be reached"
        in message
    )
    assert "hf:google/vit-tiny-test: the repository is not in the Hugging Face cache, and hub.invalid" in message
    reference = tiny_timm_model(act_layer="gelu_tanh")
    hf_cache_repo(tmp_path / "hf", f"timm/{tid}", {"model.safetensors": safetensors_bytes(reference)})
    model = vitkit.load(NAME)  # not offline: the name does not resolve, so the cached copy is used
    assert model.info.extra["hub"]["source"] == f"timm:timm/{tid}"
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-5)


def hf_vit_repo(tmp_path: Path, safetensors: bool = True) -> tuple[torch.nn.Module, dict[str, bytes]]:
    """A small transformers ViT with class names and its repository's files (``safetensors=False``: an older
    repository with pytorch_model.bin only, holding the file's own tensor names)."""
    transformers = pytest.importorskip("transformers")
    config = transformers.ViTConfig(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        image_size=32,
        patch_size=4,
        id2label={0: "cat", 1: "dog", 2: "bird"},
        label2id={"cat": 0, "dog": 1, "bird": 2},
    )
    torch.manual_seed(0)
    reference = transformers.ViTForImageClassification(config).eval()
    folder = tmp_path / "export"
    reference.save_pretrained(folder)
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix in (".json", ".safetensors")}
    if not safetensors:
        from safetensors.torch import load

        buffer = io.BytesIO()
        torch.save(load(files.pop("model.safetensors")), buffer)
        files["pytorch_model.bin"] = buffer.getvalue()
    return reference, files


def assert_same_as_transformers(model: torch.nn.Module, reference: torch.nn.Module) -> None:
    assert model.classes == ["cat", "dog", "bird"]
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(pixel_values=x).logits, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_hf_name_loads_the_transformers_copy_with_its_labels(bucket, tmp_path, monkeypatch) -> None:
    reference, files = hf_vit_repo(tmp_path)
    hf_cache_repo(tmp_path / "hf", "google/vit-tiny-test", files)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert_same_as_transformers(vitkit.load("hf:google/vit-tiny-test"), reference)


@pytest.mark.slow
@pytest.mark.parametrize("safetensors", [True, False], ids=["safetensors", "pickle-only"])
def test_hf_name_online_fetches_the_weights_and_nothing_else(bucket, tmp_path, safetensors) -> None:
    """Through the (fake) Hub API and HF_ENDPOINT: config + one weights file; other formats are not fetched."""
    reference, files = hf_vit_repo(tmp_path, safetensors)
    repo = "google/vit-tiny-test"
    for name, data in {**files, "tf_model.h5": b"x" * 50_000, "flax_model.msgpack": b"y" * 50_000}.items():
        bucket.add_hf(repo, name, data)
    if safetensors:  # a repository with both: the pickle is not fetched
        bucket.add_hf(repo, "pytorch_model.bin", b"z" * 50_000)
    assert_same_as_transformers(vitkit.load(f"hf:{repo}"), reference)
    fetched = {r["path"].rsplit("/", 1)[1] for r in bucket.requests if r["sent"] and "/resolve/" in r["path"]}
    assert fetched == {"config.json", "model.safetensors" if safetensors else "pytorch_model.bin"}


@pytest.mark.slow
def test_a_killed_download_resumes_where_it_stopped(bucket, npz_bytes) -> None:
    """SIGKILL mid-download (the server holds the transfer after its first chunk), then the rest only."""
    bucket.add(BUCKET_PATH, npz_bytes)
    bucket.mode[BUCKET_PATH] = "gated"
    write_registry(bucket, {NAME: entry(BUCKET_PATH, npz_bytes)})
    env = {**os.environ, "PYTHONPATH": str(SRC), "VITKIT_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vitkit", "pretrained", "--download", NAME],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    part = cached_file(bucket).with_name("ViT-Ti_4-test.npz.part")
    _wait_for(lambda: part.exists() and part.stat().st_size > 0, [proc])
    proc.kill()
    proc.wait(timeout=30)
    bucket.gate.set()
    kept = part.stat().st_size
    assert 0 < kept < len(npz_bytes) and not cached_file(bucket).exists()
    bucket.mode[BUCKET_PATH] = "ok"
    assert vitkit.hub.fetch_name(NAME).path.read_bytes() == npz_bytes
    resumed = bucket.requests[-1]  # (the killed request's thread may still be counting into its own record)
    assert resumed["range"] == f"bytes={kept}-" and resumed["sent"] == len(npz_bytes) - kept


def test_info_and_convert_take_names_and_keep_names_and_provenance(bucket, fixtures_dir, tmp_path, capsys) -> None:
    data = npz_with_head(fixtures_dir, 1000)
    bucket.add(BUCKET_PATH, data)
    write_registry(bucket, {NAME: entry(BUCKET_PATH, data, labels="imagenet1k", num_classes=1000)})
    assert cli(["info", NAME]) == 0
    assert "1000: tench, goldfish" in capsys.readouterr().out
    out = tmp_path / "b.safetensors"
    assert cli(["convert", NAME, str(out)]) == 0
    converted = vitkit.load(out)
    assert converted.classes[:2] == ["tench", "goldfish"]
    assert converted.info.extra["hub"]["name"] == NAME


def test_online_fallback_fetches_timms_copy_through_hf_endpoint(bucket, npz_bytes) -> None:
    """The official file is gone (404): the timm copy comes from the (fake) Hugging Face endpoint, HF_ENDPOINT."""
    tid = "vit_tiny_patch16_224.test_in1k"
    reference = tiny_timm_model(act_layer="gelu_tanh")
    bucket.add_hf(f"timm/{tid}", "model.safetensors", safetensors_bytes(reference))
    write_registry(bucket, {NAME: entry(BUCKET_PATH, npz_bytes, timm=tid, num_classes=1000)})
    model = vitkit.load(NAME)
    assert model.info.extra["hub"]["source"] == f"timm:timm/{tid}"
    assert [r["path"] for r in bucket.requests if r["sent"]] == [f"timm/{tid}/resolve/main/model.safetensors"]
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-5)
