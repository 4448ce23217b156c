"""The FastAPI application: routes, the request pipeline and the server's lifetime.

A request's images are read (size limits), decoded and transformed in a thread pool, then submitted one
by one to a ``DynamicBatcher``, which runs the model in its own single thread: the event loop only moves
bytes and futures, and the model sees one batch at a time. Every ``RequestError`` (and anything
unexpected) becomes a JSON ``{"error": "..."}`` on one line; a request past its deadline gets a 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .auth import ApiKey
from .batcher import DynamicBatcher
from .body_limit import BodyLimit
from .engine import Engine
from .errors import RequestError
from .forms import MULTIPART_BODY, read_images
from .gallery import Gallery
from .limits import Limits, check_k, decode_upload

log = logging.getLogger("vitkit.serve")
ASSETS = resources.files("vitkit.serve") / "assets"


@dataclass
class ServeOptions:
    """How the server batches and what it accepts."""

    max_batch: int = 32
    max_delay_ms: float = 5.0
    decode_threads: int = 4
    limits: Limits = field(default_factory=Limits)
    api_key: str | None = None  # required as a bearer token on /v1/* when set (vitkit.serve.auth)


class Service:
    """The app's state: the engine, its two batchers, the thread pools and readiness."""

    def __init__(self, engine: Engine, options: ServeOptions, gallery: Gallery | None) -> None:
        self.engine, self.options, self.gallery, self.limits = engine, options, gallery, options.limits
        self.model_pool = ThreadPoolExecutor(1, thread_name_prefix="vitkit-model")  # one forward pass at a time
        self.decode_pool = ThreadPoolExecutor(options.decode_threads, thread_name_prefix="vitkit-decode")
        delay = options.max_delay_ms / 1000
        self.predict = DynamicBatcher(engine.probabilities, self.model_pool, options.max_batch, delay)
        self.embed = DynamicBatcher(engine.embeddings, self.model_pool, options.max_batch, delay)
        self.ready = False
        self.failed: str | None = None

    async def start(self) -> None:
        self.predict.start()
        self.embed.start()
        try:
            await asyncio.get_running_loop().run_in_executor(
                self.model_pool, self.engine.warm_up, self.options.max_batch
            )
        except Exception as e:  # reported by /healthz and the log: the server stays up to say so
            self.failed = f"warm-up failed: {type(e).__name__}: {' '.join(str(e).split())}"
            log.exception("warm-up failed")
            return
        self.ready = True
        log.info("ready: %s (%s backend)", self.engine.checkpoint, self.engine.backend)

    async def stop(self) -> None:
        await self.predict.stop()
        await self.embed.stop()
        self.model_pool.shutdown(wait=True)
        self.decode_pool.shutdown(wait=True)

    async def inputs(self, request: Request, batcher: DynamicBatcher | None) -> list[tuple[str, Any, torch.Tensor]]:
        """Each uploaded image as (name, decoded image, model input); ``batcher`` is told they are coming."""
        if not self.ready:
            raise RequestError(503, "the model is still loading; retry when GET /healthz says ready")
        files = await read_images(request, self.limits)
        loop = asyncio.get_running_loop()
        if batcher is not None:
            batcher.expect(len(files))
        try:
            return list(
                await asyncio.gather(*(loop.run_in_executor(self.decode_pool, self._decode, n, b) for n, b in files))
            )
        except BaseException:
            if batcher is not None:
                batcher.expect(-len(files))
            raise

    def _decode(self, name: str, data: bytes) -> tuple[str, Any, torch.Tensor]:
        image = decode_upload(data, name, self.limits)
        return name, image, self.engine.preprocess(image)

    async def run(self, work: Any) -> Any:
        """Await ``work`` within the request timeout."""
        timeout = self.limits.request_timeout_s
        try:
            return await asyncio.wait_for(work, timeout)
        except TimeoutError:
            raise RequestError(
                503, f"request took longer than the limit of {timeout:g} s (server overloaded)"
            ) from None


def _top_k(probs: torch.Tensor, k: int, classes: list[str]) -> list[dict[str, Any]]:
    top = probs.topk(min(k, probs.shape[-1]))
    return [
        {"label": classes[j] if classes else str(j), "index": j, "score": p}
        for p, j in zip(top.values.tolist(), top.indices.tolist())
    ]


def create_app(engine: Engine, options: ServeOptions | None = None, gallery: Gallery | None = None) -> Any:
    """The ASGI app serving ``engine`` (wrapped in the body-size limit); ``gallery`` enables /v1/neighbors."""
    options = options or ServeOptions()
    service = Service(engine, options, gallery)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        starting = asyncio.get_running_loop().create_task(service.start())  # /healthz answers 503 meanwhile
        yield
        await asyncio.gather(starting, return_exceptions=True)
        await service.stop()

    app = FastAPI(
        title="vitkit serve",
        version="1",
        lifespan=lifespan,
        description="Vision Transformer inference: classes, embeddings, neighbours, attention rollout.",
    )
    app.state.service = service
    _add_error_handlers(app)
    _add_routes(app, service)
    app.mount("/assets", StaticFiles(directory=str(ASSETS)), name="assets")
    limited = BodyLimit(app, options.limits.max_upload_bytes)
    return ApiKey(limited, options.api_key) if options.api_key else limited


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestError)
    async def request_error(request: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path"))
        return JSONResponse({"error": f"{where or 'request'}: {first.get('msg', 'invalid')}"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": f"{request.method} {request.url.path}: {exc.detail}"}, status_code=exc.status_code
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse({"error": f"internal error: {type(exc).__name__}"}, status_code=500)


def _add_routes(app: FastAPI, service: Service) -> None:
    engine = service.engine

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(str(ASSETS / "index.html"), media_type="text/html")

    @app.get("/healthz", summary="200 once the model is loaded and warmed up, 503 before")
    async def healthz() -> JSONResponse:
        status = "ready" if service.ready else service.failed or "warming up"
        return JSONResponse({"status": status}, 200 if service.ready else 503)

    @app.get("/v1/model", summary="the model: config, classes, transform, backend; batching and limits")
    async def model_info() -> dict[str, Any]:
        batcher = service.predict
        return {
            **engine.info(),
            "max_batch": service.options.max_batch,
            "max_delay_ms": service.options.max_delay_ms,
            "limits": service.limits.to_dict(),
            "neighbors": service.gallery.info() if service.gallery else None,
            "predict_batches": {"forwards": batcher.forwards, "images": batcher.images, "max_size": batcher.max_size},
        }

    @app.post("/v1/predict", summary="top-k classes of each image (field 'image')", openapi_extra=MULTIPART_BODY)
    async def predict(request: Request, k: int = 5) -> dict[str, Any]:
        check_k(k, service.limits)

        async def work() -> dict[str, Any]:
            inputs = await service.inputs(request, service.predict)
            probs = await asyncio.gather(*[service.predict.enqueue(x) for _, _, x in inputs])
            return {"predictions": [_top_k(p, k, engine.classes) for p in probs], "model": engine.checkpoint}

        return await service.run(work())

    @app.post("/v1/embed", summary="the representation y (pre-logits) of each image", openapi_extra=MULTIPART_BODY)
    async def embed(request: Request) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            inputs = await service.inputs(request, service.embed)
            rows = await asyncio.gather(*[service.embed.enqueue(x) for _, _, x in inputs])
            return {"embeddings": [r.tolist() for r in rows], "dim": int(engine.config.embed_dim)}

        return await service.run(work())

    @app.post("/v1/neighbors", summary="nearest rows of the --neighbors embeddings file", openapi_extra=MULTIPART_BODY)
    async def nearest(request: Request, k: int = 5) -> dict[str, Any]:
        if service.gallery is None:
            raise RequestError(404, "no embeddings: start the server with --neighbors EMB or an index folder")
        check_k(k, service.limits)

        async def work() -> dict[str, Any]:
            inputs = await service.inputs(request, service.embed)
            rows = await asyncio.gather(*[service.embed.enqueue(x) for _, _, x in inputs])
            return {
                "neighbors": [service.gallery.nearest(r.numpy(), name, k) for (name, _, _), r in zip(inputs, rows)],
                "file": service.gallery.path,
            }

        return await service.run(work())

    @app.post("/v1/attention", summary="attention rollout maps, through each layer", openapi_extra=MULTIPART_BODY)
    async def attention(request: Request) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            inputs = await service.inputs(request, None)
            x = torch.stack([x for _, _, x in inputs])
            maps = await asyncio.get_running_loop().run_in_executor(service.model_pool, engine.rollout_layers, x)
            return {
                "attention": [
                    {
                        "grid": list(m.shape[1:]),
                        "num_layers": len(m),
                        "layers": np.round(m.reshape(len(m), -1), 4).tolist(),
                        "view": engine.view_box(*image.size),
                    }
                    for (_, image, _), m in zip(inputs, maps)
                ]
            }

        return await service.run(work())

    @app.get(
        "/v1/thumbnail/{index}",
        summary="a thumbnail of a row of the --neighbors file (listed files only)",
        response_class=Response,
    )
    async def thumbnail(index: int) -> Response:
        if service.gallery is None:
            raise RequestError(404, "no embeddings: start the server with --neighbors EMB or an index folder")
        png = await asyncio.get_running_loop().run_in_executor(service.decode_pool, service.gallery.thumbnail, index)
        return Response(png, media_type="image/png", headers={"cache-control": "max-age=3600"})
