"""``vitkit bench``: vitkit against timm, torchvision and transformers on the same ViT shapes.

``run.run_bench(cases.make_cases(["Ti/16"], [1, 16]))`` times inference and training steps in alternating
rounds, measures peak memory (a fresh process per measurement), achieved GFLOP/s against the machine's fp32
matmul peak, and the input pipeline; ``report.format_table`` and ``report.write_json`` report it.

The package imports nothing itself: ``cases`` is light (the CLI's parser reads its defaults), the rest
imports torch.
"""
