"""Page routes: the two front ends' shells, the app's manifest and service worker, and the static assets.

The shells carry no data: their JavaScript reads it from the REST API with the bearer token the
browser keeps, so a page never needs a cookie and every figure shown is one the API would give.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from csms import __version__

WEB_ROOT = Path(__file__).parent
STATIC_ROOT = WEB_ROOT / "static"

# Everything comes from csms itself: no CDN, no inline script. Inline styles are allowed for the
# sticker sheet, which the dashboard opens from a blob: URL that inherits this policy. WebAssembly may be
# compiled ('wasm-unsafe-eval', which allows no JavaScript eval): the app's QR decoder where the browser
# has none (js/app/qr_reader.js).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' blob: data:",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "worker-src 'self'",
        "manifest-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    )
)

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=WEB_ROOT / "templates")


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_ROOT)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/app")


@router.get("/admin")
async def admin_dashboard(request: Request) -> HTMLResponse:
    return _page(request, "admin.html")


@router.get("/app")
async def charging_app(request: Request) -> HTMLResponse:
    return _page(request, "app.html")


@router.get("/app/pair")
async def pairing_link(request: Request) -> HTMLResponse:
    """A sticker's link (services/pairing.py): the app itself, whose script pairs with the link's code."""
    return _page(request, "app.html")


@router.get("/app/manifest.webmanifest")
async def app_manifest() -> FileResponse:
    return FileResponse(STATIC_ROOT / "manifest.webmanifest", media_type="application/manifest+json")


@router.get("/app/sw.js")
async def app_service_worker() -> Response:
    # The worker lives under /app/ but controls /app itself, which is outside its default scope.
    script = (STATIC_ROOT / "js" / "sw.js").read_text().replace("__VERSION__", __version__)
    headers = {"Service-Worker-Allowed": "/app", "Cache-Control": "no-cache"}
    return Response(script, media_type="text/javascript", headers=headers)


def _page(request: Request, template: str) -> HTMLResponse:
    response = templates.TemplateResponse(request, template, {"version": __version__})
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-cache"
    return response
