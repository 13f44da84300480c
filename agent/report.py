"""report.html: one self-contained page per run (images embedded), built from the run directory."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from PIL import Image as PILImage

from agent.transcript import Image, Message, Text, Thought, ToolCall, ToolResult, load_transcript
from sandbox.files import atomic_write_text

REPORT_MAX_SIDE = 1200
REPORT_MAX_BYTES = 400_000

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.4em} .meta{color:#555;font-size:.9em} .step{border-left:3px solid #ccd;margin:1.2em 0;padding:.2em 1em}
.thought{color:#666;font-style:italic;white-space:pre-wrap} .text{white-space:pre-wrap}
.call{font-family:ui-monospace,monospace;background:#f4f4f8;padding:.4em .6em;border-radius:4px;white-space:pre-wrap;word-break:break-all}
.result{font-family:ui-monospace,monospace;font-size:.9em;white-space:pre-wrap;margin:.4em 0}
.error{color:#b00020} figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}
figure img{max-width:520px;max-height:420px;border:1px solid #ccc} figcaption{font-size:.85em;color:#444}
.answer{background:#eef8ee;border:1px solid #9c9;padding:1em;border-radius:6px;white-space:pre-wrap}
.evidence figure img{border:3px solid #2a2}
"""


def write_report(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    task = _load_json(run_dir / "task.json")
    answer = _load_json(run_dir / "answer.json")
    index = _load_json(run_dir / "images" / "index.json")
    messages = load_transcript(run_dir / "transcript.jsonl") if (run_dir / "transcript.jsonl").exists() else []
    cache: dict[str, str] = {}

    def figure(image_id: str) -> str:
        rec = index.get(image_id)
        if rec is None:
            return f"<figure><figcaption>{html.escape(image_id)} (missing)</figcaption></figure>"
        if image_id not in cache:
            cache[image_id] = _data_uri(run_dir / "images" / rec["file"])
        origin = f"{rec['op']} of {rec['parent']}" if rec.get("parent") else (rec.get("source") or rec["op"])
        params = f" {json.dumps(rec['params'], ensure_ascii=False)}" if rec.get("params") else ""
        caption = f"{image_id} · {rec['width']}×{rec['height']} · {origin}{params}"
        return f'<figure><img src="{cache[image_id]}" alt="{image_id}"><figcaption>{html.escape(caption)}</figcaption></figure>'

    body = [f"<h1>{html.escape(task.get('task', '(no task)'))}</h1>"]
    body.append(
        '<p class="meta">'
        + " · ".join(
            html.escape(str(x))
            for x in [
                f"model {answer.get('model', task.get('model', '?'))}",
                f"status {answer.get('status', 'running or crashed')}",
                f"steps {answer.get('steps', '?')}",
                f"isolation {answer.get('isolation', task.get('isolation', '?'))}",
                _usage_line(answer),
            ]
        )
        + "</p>"
    )
    if answer:
        body.append("<h2>Answer</h2>")
        if answer.get("answer") is not None:
            body.append(f'<div class="answer">{html.escape(answer["answer"])}</div>')
        else:
            body.append(
                f'<div class="answer error">No answer: {html.escape(str(answer.get("error") or answer.get("status")))}</div>'
            )
        if answer.get("evidence"):
            body.append('<div class="evidence">' + "".join(figure(i) for i in answer["evidence"]) + "</div>")
    body.append("<h2>Steps</h2>")
    step = 0
    for m in messages:
        body.append(_render_message(m, step, figure))
        if m.role == "model":
            step += 1
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(task.get('task', 'run'))}</title><style>{_CSS}</style></head><body>{''.join(body)}</body></html>"
    out = run_dir / "report.html"
    atomic_write_text(out, page)
    return out


def _render_message(m: Message, step: int, figure) -> str:
    chunks = []
    for p in m.parts:
        if isinstance(p, Thought) and p.text:
            chunks.append(f'<div class="thought">{html.escape(p.text)}</div>')
        elif isinstance(p, Text):
            chunks.append(f'<div class="text">{html.escape(p.text)}</div>')
        elif isinstance(p, Image):
            chunks.append(figure(p.image_id))
        elif isinstance(p, ToolCall):
            chunks.append(
                f'<div class="call">→ {html.escape(p.name)}({html.escape(json.dumps(p.args, ensure_ascii=False))})</div>'
            )
        elif isinstance(p, ToolResult):
            cls = "result error" if p.is_error else "result"
            chunks.append(f'<div class="{cls}">{html.escape(p.name)}: {html.escape(p.text)}</div>')
            chunks.extend(figure(i) for i in p.image_ids)
    title = {"user": "Task", "model": f"Step {step + 1}: model", "tool": "Observation"}[m.role]
    return f'<div class="step"><h3>{title}</h3>{"".join(chunks)}</div>'


def _usage_line(answer: dict) -> str:
    usage = answer.get("usage") or {}
    if not usage:
        return "usage unknown"
    cost = answer.get("cost_usd")
    cost_text = f"${cost:.4f}" if isinstance(cost, (int, float)) else "cost unknown"
    return f"tokens in {usage.get('input_tokens', 0)} (cached {usage.get('cached_tokens', 0)}) out {usage.get('output_tokens', 0)} · {cost_text}"


def _data_uri(path: Path) -> str:
    try:
        with PILImage.open(path) as im:
            im.load()
            # Photo-like PNGs run to megabytes; a report needs only a faithful look at them.
            too_heavy = path.stat().st_size > REPORT_MAX_BYTES
            if too_heavy or max(im.size) > REPORT_MAX_SIDE or path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
                im = im.convert("RGB")
                im.thumbnail((REPORT_MAX_SIDE, REPORT_MAX_SIDE))
                buf = io.BytesIO()
                im.save(buf, "JPEG", quality=85)
                return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
    except OSError:
        return ""
    mime = "image/png" if path.suffix.lower() == ".png" else "image/jpeg"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
