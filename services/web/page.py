"""The dashboard page: rendered whole on the server from the current state (so it shows what is
true the moment it loads, script or not), then kept live by a short script reading
/supervision/events (server-sent events) and /supervision/state.json."""

from __future__ import annotations

from html import escape
from typing import Any


def _rate(r: dict[str, Any]) -> str:
    if not r["defined"]:
        return '<td class="na">—</td>'
    cls = "ok" if r["meets"] else "bad"
    return f'<td class="{cls}">{r["percent"]:.1f}%<small>（目标 {r["target"]:.0f}%，{escape(r["of"])}）</small></td>'


def cards_html(state: dict[str, Any]) -> str:
    if not state["cards"]:
        return '<tr><td colspan="5" class="na">没有有效的警示卡</td></tr>'
    return "".join(
        f'<tr class="level-{escape(c["level"])}" data-card="{escape(c["card_id"])}"><td>{escape(c["level"])}</td>'
        f'<td>{escape(c["case_id"])}</td><td>{escape(c["department"])}</td><td>{escape(c["explanation"])}</td>'
        f'<td>{escape(c["raised_at"])}</td></tr>' for c in state["cards"])


def departments_html(state: dict[str, Any]) -> str:
    return "".join(
        f'<tr><td>{escape(d["name"])}</td><td>{d["accepted"]}</td><td>{d["completed"]}</td>{_rate(d["on_time"])}'
        f'{_rate(d["on_site"])}<td>{d["cards"]}</td></tr>' for d in state["departments"])


def feed_html(state: dict[str, Any]) -> str:
    return "".join(f'<li data-cursor="{e["cursor"]}"><time>{escape(e["at"])}</time> <b>{escape(e["case_id"])}</b> '
                   f'{escape(e["text"])}</li>' for e in state["feed"])


_STYLE = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC",sans-serif;margin:0;background:#0b1e33;color:#e8eef5}
header{padding:12px 20px;background:#12385f;font-size:22px}
main{display:grid;grid-template-columns:3fr 2fr;gap:16px;padding:16px}
section{background:#10294a;border-radius:6px;padding:12px}
h2{font-size:17px;margin:0 0 8px}
table{width:100%;border-collapse:collapse;font-size:14px}
td,th{padding:4px 6px;border-bottom:1px solid #1f4470;text-align:left;vertical-align:top}
small{color:#9fb3c8;margin-left:4px}
.ok{color:#6fdc8c}.bad{color:#ff8389}.na{color:#9fb3c8}
td:first-child{white-space:nowrap}
tr.level-红牌 td:first-child{color:#ff4d4f;font-weight:bold}
tr.level-黄牌 td:first-child{color:#fadb14;font-weight:bold}
tr.level-预警 td:first-child{color:#69c0ff}
ul{list-style:none;margin:0;padding:0;font-size:14px;max-height:640px;overflow:auto}
li{padding:3px 0;border-bottom:1px solid #1f4470}
time{color:#9fb3c8}
"""

_SCRIPT = """
const feed = document.getElementById('feed');
function esc(s){const d=document.createElement('div');d.textContent=s;return d.innerHTML;}
async function refresh(){
  const r = await fetch('/supervision/state.json'); if(!r.ok) return;
  const s = await r.json();
  document.getElementById('cards').innerHTML = s.cards_html;
  document.getElementById('departments').innerHTML = s.departments_html;
}
function listen(){
 const source = new EventSource('/supervision/events?after=' + document.body.dataset.cursor);
 source.onmessage = (ev) => {
  const e = JSON.parse(ev.data);
  if (feed.querySelector('[data-cursor="' + e.cursor + '"]')) return;
  const li = document.createElement('li'); li.dataset.cursor = e.cursor;
  li.innerHTML = '<time>' + esc(e.at) + '</time> <b>' + esc(e.case_id) + '</b> ' + esc(e.text);
  feed.prepend(li);
  while (feed.children.length > 200) feed.lastChild.remove();
  if (e.kind === 'card' || e.kind === 'completed') refresh();
 };
}
// The stream opens once the page has loaded: it never holds the page's load back.
window.addEventListener('load', () => setTimeout(listen, 0));
setInterval(refresh, 15000);
"""


def page(state: dict[str, Any]) -> str:
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>电子监察 — 政务服务中心</title>
<style>{_STYLE}</style></head>
<body data-cursor="{state['cursor']}">
<header>政务服务中心 行政效能电子监察</header>
<main>
<div>
<section><h2>有效警示卡</h2><table><thead><tr><th>等级</th><th>案件</th><th>部门</th><th>说明</th><th>发出</th></tr></thead>
<tbody id="cards">{cards_html(state)}</tbody></table></section>
<section style="margin-top:16px"><h2>各部门办理情况（{escape(state['period'])}）</h2><table><thead><tr><th>部门</th>
<th>受理</th><th>办结</th><th>按时办结率</th><th>现场办结率</th><th>黄红牌</th></tr></thead>
<tbody id="departments">{departments_html(state)}</tbody></table></section>
</div>
<section><h2>实时动态</h2><ul id="feed">{feed_html(state)}</ul></section>
</main>
<script>{_SCRIPT}</script>
</body></html>"""
