"""``vitkit bench-serve`` end to end on the tiny shape, briefly: it serves, loads, times offline, prints ratios."""

import json

import pytest

from vitkit.cli.main import main
from vitkit.serve.bench import format_result

pytest.importorskip("fastapi")


@pytest.mark.slow
def test_bench_serve_prints_served_and_offline_figures_with_ratios(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = ["bench-serve", "--models", "tiny", "--clients", "1,32", "--duration", "0.5", "--max-requests", "200"]
    assert main([*args, "--max-batch", "8", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "of offline batch throughput" in printed and "one batch-1 forward" in printed
    (result,) = json.loads(out.read_text())
    assert [s["clients"] for s in result["serve"]] == [1, 32]
    for s in result["serve"]:
        assert s["errors"] == 0 and 0 < s["requests"] <= 200 and s["p50_ms"] <= s["p99_ms"]
        assert s["rps"] == pytest.approx(s["requests"] / s["seconds"])
    assert result["offline"]["batch"] == 8 and result["offline"]["images_per_s"] > 0
    at32 = result["serve"][1]["rps"] / result["offline"]["images_per_s"]
    assert result["throughput_ratio_32"] == pytest.approx(at32)
    assert result["p99_ratio_1"] == pytest.approx(result["serve"][0]["p99_ms"] / result["offline"]["batch1_ms"])
    assert format_result(result).splitlines()[0] in printed


def test_bench_serve_refuses_unknown_models(capsys):
    assert main(["bench-serve", "--models", "ViT-Q/3"]) == 2
    assert "--models" in capsys.readouterr().err
