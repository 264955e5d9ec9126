"""The LED hall board (叫号屏): large type, rendered whole on the server, then kept live by a short
script reading /board/events. A ticket just called (or recalled) flashes at its window."""

from __future__ import annotations

from html import escape
from typing import Any


def windows_html(state: dict[str, Any]) -> str:
    return "".join(
        f'<div class="window" data-window="{escape(w["window"])}" data-calls="{w["calls"]}">'
        f'<span class="num">{escape(w["ticket"]) or "—"}</span><span class="to">请到 {escape(w["window"])} 窗口</span></div>'
        for w in state["windows"])


def groups_html(state: dict[str, Any]) -> str:
    return "".join(f'<tr><td>{escape(g["group"])} 区</td><td>{escape(g["name"])}</td><td>{g["waiting"]} 人</td>'
                   f'<td>约 {g["minutes"]} 分钟</td></tr>' for g in state["groups"])


def today_html(state: dict[str, Any]) -> str:
    t = state["today"]
    cases = (f'<span>今日受理 <b>{t["accepted"]}</b> 件</span><span>办结 <b>{t["completed"]}</b> 件</span>'
             if "accepted" in t else "")
    return (f'<span>取号 <b>{t["taken"]}</b></span><span>已办理 <b>{t["served"]}</b></span>'
            f'<span>等候 <b>{t["waiting"]}</b></span><span>平均等候 <b>{t["average_wait"]}</b> 分钟</span>{cases}')


def recent_html(state: dict[str, Any]) -> str:
    return "".join(f'<li>{escape(c["at"])} 请 <b>{escape(c["ticket"])}</b> 号到 {escape(c["window"])} 窗口</li>'
                   for c in state["recent"])


_STYLE = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC",sans-serif;margin:0;background:#000;color:#ff3b30}
header{padding:10px 24px;font-size:34px;color:#ffd60a;display:flex;justify-content:space-between}
#windows{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px;padding:12px 24px}
.window{border:2px solid #3a0a08;border-radius:8px;padding:10px;text-align:center}
.num{display:block;font-size:72px;font-weight:bold;letter-spacing:4px}
.to{font-size:24px;color:#ffd60a}
.window.flash{animation:flash 1s 4}
@keyframes flash{50%{background:#ff3b30;color:#000}}
section{display:grid;grid-template-columns:1fr 1fr;gap:24px;padding:0 24px}
table{width:100%;border-collapse:collapse;font-size:24px;color:#32d74b}
td{padding:4px 8px;border-bottom:1px solid #222}
ul{list-style:none;margin:0;padding:0;font-size:24px;color:#ffd60a}
#today{padding:12px 24px;font-size:26px;color:#32d74b;display:flex;gap:28px;flex-wrap:wrap}
"""

_SCRIPT = """
function render(s){
  const before = {};
  document.querySelectorAll('.window').forEach(w => before[w.dataset.window] = w.querySelector('.num').textContent + '/' + w.dataset.calls);
  document.getElementById('windows').innerHTML = s.windows_html;
  document.getElementById('groups').innerHTML = s.groups_html;
  document.getElementById('today').innerHTML = s.today_html;
  document.getElementById('recent').innerHTML = s.recent_html;
  document.querySelectorAll('.window').forEach(w => {
    const now = w.querySelector('.num').textContent + '/' + w.dataset.calls;
    if (before[w.dataset.window] !== undefined && before[w.dataset.window] !== now && now[0] !== '—') w.classList.add('flash');
  });
}
function listen(){
  const source = new EventSource('/board/events');
  source.addEventListener('board', async () => {
    const r = await fetch('/board/state.json'); if (r.ok) render(await r.json());
  });
}
window.addEventListener('load', () => setTimeout(listen, 0));
setInterval(() => { document.getElementById('clock').textContent = new Date().toLocaleTimeString('zh-CN', {hour12: false}); }, 1000);
"""


def page(state: dict[str, Any]) -> str:
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>叫号屏 — 政务服务中心</title>
<style>{_STYLE}</style></head>
<body>
<header><span>政务服务中心 叫号</span><span id="clock"></span></header>
<div id="windows">{windows_html(state)}</div>
<section><div><table><tbody id="groups">{groups_html(state)}</tbody></table></div>
<ul id="recent">{recent_html(state)}</ul></section>
<div id="today">{today_html(state)}</div>
<script>{_SCRIPT}</script>
</body></html>"""
