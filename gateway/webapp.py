"""The built web app (``gateway/web``, React + Vite) at ``/``: its ``dist`` served as
static files, or a page saying how to build it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

WEB_DIST = Path(__file__).parent / "web" / "dist"

NOT_BUILT = """<!doctype html><title>Heliomesh gateway</title>
<h1>Heliomesh gateway</h1><p>The web app is not built: run <code>make setup</code>
(it builds <code>gateway/web</code> with Vite). The API is at <a href="/docs">/docs</a>.</p>"""

not_built_router = APIRouter()


@not_built_router.get("/", include_in_schema=False)
async def index() -> HTMLResponse:
    return HTMLResponse(NOT_BUILT)


def mount_web_app(app: FastAPI, dist: Path) -> None:
    """Serve ``dist`` at ``/`` (mounted last: the API routes come first), else the
    not-built page."""
    if (dist / "index.html").is_file():
        app.mount("/", StaticFiles(directory=dist, html=True), name="web")
    else:
        app.include_router(not_built_router)
