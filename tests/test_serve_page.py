"""The page of ``vitkit serve`` in a real browser: Debian's headless chromium driven by Playwright
(the system browser; nothing is downloaded) uploads an image, waits for the top-5 bars and the attention
heat map, moves the layer slider, and takes a screenshot."""

import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import vitkit
from vitkit.cli.main import main
from vitkit.serve.server_process import ServerProcess

CHROMIUM = os.environ.get("VITKIT_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _sync_playwright():
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no chromium at {CHROMIUM}: `apt-get install chromium` (make test does, as root)")
    return pytest.importorskip("playwright.sync_api", reason="playwright is not installed").sync_playwright


def _checkpoint_and_images(root):
    torch.manual_seed(0)
    model = vitkit.create_model(
        "ViT-Ti/16", image_size=32, patch_size=4, hidden_size=32, num_layers=4, num_heads=2, mlp_dim=64, num_classes=10
    )
    with torch.no_grad():
        model.head.weight.normal_(0, 0.5)
    ckpt = root / "page.safetensors"
    vitkit.save(model, ckpt, classes=[f"digit {i}" for i in range(10)])
    yy, xx = np.mgrid[0:96, 0:128]
    for i in range(6):  # smooth colour gradients with a bright disc, so the screenshot shows an image
        disc = ((yy - 20 - 10 * i) ** 2 + (xx - 30 - 12 * i) ** 2 < 400) * 255
        rgb = np.stack([xx * 2 % 256, yy * 2 % 256, disc], -1).astype(np.uint8)
        folder = root / "gallery" / f"c{i % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb).save(folder / f"{i}.png")
    emb = root / "emb.npz"
    assert main(["embed", str(ckpt), str(root / "gallery"), "-o", str(emb)]) == 0
    return ckpt, emb, root / "gallery" / "c0" / "2.png"


@pytest.mark.slow
def test_page_shows_top5_attention_and_neighbours(tmp_path):
    sync_playwright = _sync_playwright()
    ckpt, emb, image = _checkpoint_and_images(tmp_path)
    srv = ServerProcess([str(ckpt), "--neighbors", str(emb)], tmp_path / "server.log").wait_ready()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(srv.url + "/")
            page.wait_for_selector("body[data-state=idle]")
            page.set_input_files("#file", str(image))
            page.wait_for_selector("body[data-state=done]", timeout=60_000)
            assert page.locator("#top li").count() == 5
            labels = page.locator("#top li .row span:first-child").all_inner_texts()
            assert all(t.startswith("digit ") for t in labels)
            widths = page.eval_on_selector_all("#top .bar", "bars => bars.map(b => b.getBoundingClientRect().width)")
            assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]  # bars follow the scores
            assert page.get_attribute("#view", "data-ready") == "true"
            assert page.get_attribute("#view", "data-layer") == "4"  # the full rollout first
            # the heat map is drawn: the canvas is not the plain image (jet colours cover it)
            colours = page.evaluate("""() => { const c = document.getElementById('view');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                const seen = new Set();
                for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] >> 4 << 8 | d[i+1] >> 4 << 4 | d[i+2] >> 4);
                return seen.size; }""")
            assert colours > 20
            page.locator("#layer").fill("1")
            page.locator("#layer").dispatch_event("input")
            assert page.get_attribute("#view", "data-layer") == "1"
            assert "1 of 4" in page.inner_text("#layer-label")
            page.locator("#layer").fill("4")
            page.locator("#layer").dispatch_event("input")
            assert page.locator("#neighbors img").count() == 6
            page.wait_for_function(
                "() => [...document.querySelectorAll('#neighbors img')].every(i => i.complete && i.naturalWidth > 0)"
            )
            shot = tmp_path / "page.png"
            page.screenshot(path=str(shot), full_page=True)
            browser.close()
        assert not errors, errors
        assert Image.open(shot).size[0] == 1280
        if os.environ.get("VITKIT_SCREENSHOT"):  # keep a copy to look at
            shutil.copy(shot, os.environ["VITKIT_SCREENSHOT"])
    finally:
        srv.stop()
