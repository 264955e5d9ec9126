"""The Starlette app: the supervision dashboard (/supervision) and the LED hall board (/board),
each with its state as JSON and its live events, and a health check."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, StreamingResponse
from starlette.routing import Route

from services.web import board_page, page
from services.web.board import Board
from services.web.dashboard import Dashboard


def build(dashboard: Dashboard, board: Board) -> Starlette:
    def index(request: Request) -> RedirectResponse:
        return RedirectResponse("/supervision")

    def supervision(request: Request) -> HTMLResponse:
        return HTMLResponse(page.page(dashboard.state()))

    def state(request: Request) -> JSONResponse:
        s = dashboard.state()
        return JSONResponse({**s, "cards_html": page.cards_html(s), "departments_html": page.departments_html(s)})

    def events(request: Request) -> StreamingResponse:
        # EventSource sends the last id it saw when it reconnects; the page passes its first.
        raw = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
        after = int(raw) if raw.isdigit() else 0
        return StreamingResponse(dashboard.events(after), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def board_index(request: Request) -> HTMLResponse:
        return HTMLResponse(board_page.page(board.state()))

    def board_state(request: Request) -> JSONResponse:
        s = board.state()
        return JSONResponse({**s, "windows_html": board_page.windows_html(s), "groups_html": board_page.groups_html(s),
                             "today_html": board_page.today_html(s), "recent_html": board_page.recent_html(s)})

    def board_events(request: Request) -> StreamingResponse:
        return StreamingResponse(board.events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/", index), Route("/supervision", supervision),
                             Route("/supervision/state.json", state), Route("/supervision/events", events),
                             Route("/board", board_index), Route("/board/state.json", board_state),
                             Route("/board/events", board_events), Route("/healthz", healthz)])
