"""The single-page builder, served from the package's ``ui_dist/`` at ``/logidata/ui/``.

The files hold no data (everything comes from the authenticated API), so they are served without auth;
unknown paths fall back to ``index.html`` for client-side routes. When the bundle was not built (a
source checkout before ``make ui``) every UI path answers 503 saying so, instead of a blank page.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path, PurePosixPath

from fastapi import APIRouter, status
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.requests import Request  # noqa: TC002 (FastAPI resolves route annotations at run time)

UI_DIST = Path(__file__).resolve().parent.parent / "ui_dist"
MISSING_MESSAGE = "UI bundle not built: run make ui"

router = APIRouter(include_in_schema=False)


def _missing(request: Request) -> Response:
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(
            "<!doctype html><html><head><meta charset='utf-8'><title>LogiData builder</title></head>"
            "<body style='font-family:sans-serif;padding:2rem'><h1>LogiData builder</h1>"
            f"<p><strong>{MISSING_MESSAGE}</strong> (expected the bundle in <code>{UI_DIST}</code>). "
            "The API at <code>/logidata/api/</code> works without it.</p></body></html>",
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return JSONResponse(
        {"detail": f"{MISSING_MESSAGE} (expected {UI_DIST}/index.html)", "errors": []},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


def resolve(root: Path, path: str) -> Path | None:
    """The file under ``root`` for a URL path, or None (never outside ``root``)."""
    parts = PurePosixPath(path).parts
    if any(part in ("..", "") or part.startswith(".") for part in parts):
        return None
    candidate = root.joinpath(*parts) if parts else root
    try:
        candidate.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    return candidate if candidate.is_file() else None


def ui_response(request: Request, path: str, root: Path | None = None) -> Response:
    root = UI_DIST if root is None else root
    index = root / "index.html"
    if not index.is_file():
        return _missing(request)
    found = resolve(root, path) if path else None
    if found is not None:
        media_type = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        # Vite puts content hashes in asset names: cache them; never cache index.html.
        cache = "public, max-age=31536000, immutable" if found.parent.name == "assets" else "no-cache"
        return FileResponse(found, media_type=media_type, headers={"Cache-Control": cache})
    if PurePosixPath(path).suffix and not path.endswith(".html"):
        return JSONResponse(
            {"detail": f"no file {path!r} in the UI bundle", "errors": []},
            status_code=status.HTTP_404_NOT_FOUND,
        )
    return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/ui", include_in_schema=False)
def ui_root() -> Response:
    from fastapi.responses import RedirectResponse

    return RedirectResponse("ui/", status_code=status.HTTP_307_TEMPORARY_REDIRECT)


@router.get("/ui/{path:path}", include_in_schema=False)
def ui_file(request: Request, path: str) -> Response:
    return ui_response(request, path)


ICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="#0ea5e9" '
    'stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><rect x="2" y="3" width="6" height="5" '
    'rx="1"/><rect x="16" y="3" width="6" height="5" rx="1"/><rect x="9" y="16" width="6" height="5" rx="1"/>'
    '<path d="M5 8v3a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8M12 13v3"/></svg>'
)


@router.get("/icon.svg", include_in_schema=False)
def icon() -> Response:
    """The nav icon (Airflow shows ``external_views[].icon`` as an image)."""
    return Response(ICON_SVG, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})
