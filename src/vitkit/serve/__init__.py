"""``vitkit serve``: a checkpoint behind HTTP (FastAPI + uvicorn) with dynamic batching and a web page.

Modules: ``engine`` (the model, its transform, the computations), ``batcher`` (concurrent images into one
forward pass), ``limits``/``forms``/``body_limit`` (what a request may be), ``gallery`` (the embeddings
file for neighbours and its thumbnails), ``app`` (routes: ``create_app``), ``server`` (uvicorn:
``run_server``), ``bench`` (``vitkit bench-serve``); ``assets/`` holds the page (plain HTML + JS).
Nothing is imported here, so that the CLI's parser does not import FastAPI.
"""
