"""report.html: one page per run, opened from the run directory, built from what the run wrote.

The page stands alone (display copies of the images are embedded) and links each image to its
full-resolution file in images/ and each edited document to its file in home/, by relative
links, so the run directory can be moved. It works on a phone as on a desktop.

Everything shown came from a model or a document: every text is HTML-escaped, every attribute
and link is built by this module from checked ids and paths (never taken from the model), and a
Content-Security-Policy lets no script run at all."""

from __future__ import annotations

import html
import json
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from agent.report_images import Crop, display_uri, page_crop
from agent.report_run import IMAGE_FILE, Check, Finding, RunView, load_run
from agent.transcript import Image, Message, Text, Thought, ToolCall, ToolResult
from sandbox.confined import ConfinedDir, ConfinedPathError
from sandbox.files import atomic_write_text

# Longer tool texts and thoughts are folded: a skills guide or an inspection is there to be opened.
FOLD_LINES = 14
FOLD_CHARS = 1400
THOUGHT_FOLD_CHARS = 900
SHORT_ARG_CHARS = 160

FAILURES = {
    "step_limit": "Stopped: the step limit was reached",
    "budget": "Stopped: the budget was spent",
    "model_error": "Failed: the model or its API failed",
    "interrupted": "Interrupted",
    "crashed": "Crashed",
    "usage_error": "Failed: the run could not start as given",
    "stopped": "Stopped by the caller",
    "safety": "Stopped: the model's provider blocked the reply (safety)",
    "recitation": "Stopped: the model's provider blocked the reply (recitation)",
    "blocked": "Stopped: the model's provider blocked the request",
    "empty": "Stopped: the model returned nothing",
    "other": "Stopped: the model stopped for a reason its provider did not give",
}

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_CSS = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1120px;margin:0 auto;padding:1em;color:#1d1d1f;overflow-wrap:anywhere}
h1{font-size:1.35em;margin:.2em 0 .4em} h2{font-size:1.15em;margin:1.6em 0 .5em;border-bottom:1px solid #ddd;padding-bottom:.2em}
h3{font-size:1em;margin:0 0 .4em}
a{color:#0b57d0}
pre,code,.call{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.86em}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:.3em 0}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:0;font-size:.9em;color:#444}
.meta dt{font-weight:600;color:#333} .meta dd{margin:0;min-width:0}
.pill{display:inline-block;padding:0 .5em;border-radius:1em;font-weight:600;font-size:.85em}
.pill.ok{background:#dff3e3;color:#125b24} .pill.bad{background:#fde3e1;color:#9b1c13}
.answer{background:#eef8ee;border:1px solid #9c9;padding:.8em 1em;border-radius:6px;white-space:pre-wrap}
.failure{background:#fdecea;border:1px solid #e39a93;border-left:6px solid #c62828;padding:.8em 1em;border-radius:6px}
.failure strong{color:#9b1c13;display:block} .failure pre{color:#5d1410}
.warn{color:#8a5300}
.figs{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start;margin:.6em 0}
figure{margin:0;max-width:min(100%,480px);min-width:0}
.evidence figure{max-width:min(100%,540px)} .evidence .frame img{border:3px solid #2a2}
figcaption{font-size:.82em;color:#444;margin-top:.25em}
.frame{position:relative;display:inline-block;max-width:100%;line-height:0;vertical-align:top}
.frame img{display:block;max-width:100%;height:auto;border:1px solid #ccc;background:#fff}
.region{position:absolute;border:2px solid #e0218a;box-shadow:0 0 0 1px #fff;line-height:1.2;text-decoration:none}
.region span{position:absolute;left:-2px;bottom:100%;background:#e0218a;color:#fff;font-size:11px;padding:0 3px;white-space:nowrap}
.mark{position:absolute;outline:2px solid #d32f2f;outline-offset:3px;border-radius:2px}
.step{border-left:3px solid #ccd;margin:1.2em 0;padding:.1em 0 .1em .9em;min-width:0}
.step h3 .time{font-weight:400;color:#666;font-size:.9em}
.thought{color:#555;font-style:italic;white-space:pre-wrap}
.text{white-space:pre-wrap} .note{color:#555;font-size:.9em;white-space:pre-wrap}
.tool{margin:.6em 0 .9em;min-width:0}
.call{background:#f3f3f7;padding:.35em .6em;border-radius:4px;white-space:pre-wrap;overflow-wrap:anywhere}
.call .name{font-weight:700}
.result{margin:.3em 0 0 .2em}
.result.error pre,.result.error summary{color:#b00020}
details summary{cursor:pointer;font-family:ui-monospace,Menlo,monospace;font-size:.86em;color:#333}
.findings{list-style:none;padding:0;margin:.5em 0}
.findings>li{margin:.6em 0;padding:.5em .7em;border:1px solid #e3e3e8;border-radius:6px}
.sev{font-weight:700;text-transform:uppercase;font-size:.78em;padding:0 .4em;border-radius:3px;color:#fff}
.sev.error{background:#c62828} .sev.warning{background:#b26a00} .sev.info{background:#1565c0}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,300px),1fr));gap:.8em;margin-top:.5em}
.pair figure{max-width:100%}
.fix{margin:1em 0;padding:.6em .9em;border:1px solid #cfd8e3;border-radius:6px}
"""


def write_report(run_dir: Path) -> Path:
    run = load_run(Path(run_dir))
    page = _Page(run).html()
    out = run.path / "report.html"
    atomic_write_text(out, page)
    return out


def esc(value) -> str:
    return html.escape(str(value), quote=True)


class _Page:
    def __init__(self, run: RunView):
        self.run = run
        self._uris: dict[str, str] = {}
        self._anchored: set[str] = set()  # images whose figure carries the id= a link can jump to

    # -- the page ----------------------------------------------------------------------------
    def html(self) -> str:
        task = self.run.task.get("task") or "(no task recorded)"
        steps = self._steps()  # first: it decides where each image's anchor lives
        body = [self._header(str(task)), self._outcome(), self._fixes(), "<h2>Steps</h2>", steps]
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            "<meta name='referrer' content='no-referrer'>"
            f"<title>{esc(_clip(str(task), 120))}</title><style>{_CSS}</style></head>"
            f"<body>{''.join(body)}</body></html>"
        )

    def _header(self, task: str) -> str:
        answer, info = self.run.answer, self.run.task
        status = answer.get("status") or "running or crashed (no answer.json)"
        pill = "ok" if status == "done" else "bad"
        rows = [("Status", f"<span class='pill {pill}'>{esc(status)}</span>")]
        started = _when(info.get("started_at"))
        if started:
            rows.append(("Started", esc(started)))
        if isinstance(answer.get("seconds"), (int, float)):
            rows.append(("Duration", esc(_duration(answer["seconds"]))))
        if isinstance(answer.get("steps"), int):
            rows.append(("Steps", esc(answer["steps"])))
        rows.append(("Model", esc(answer.get("model") or info.get("model") or "unknown")))
        isolation = answer.get("isolation") or info.get("isolation") or "unknown"
        note = answer.get("isolation_note")
        rows.append(("Isolation", esc(isolation) + (f" <span class='warn'>· {esc(note)}</span>" if note else "")))
        rows.append(("Tokens", esc(_tokens(answer.get("usage")))))
        cost = answer.get("cost_usd")
        rows.append(
            ("Cost", esc(f"${cost:.4f}" if isinstance(cost, (int, float)) else "unknown (no price for this model)"))
        )
        rows.append(("Run directory", f"<code>{esc(self.run.path.resolve())}</code>"))
        meta = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
        return f"<header><h1>{esc(task)}</h1><dl class='meta'>{meta}</dl></header>"

    def _outcome(self) -> str:
        answer = self.run.answer
        if not answer:
            return (
                "<h2>Outcome</h2><div class='failure'><strong>No outcome recorded</strong>"
                "The run has no answer.json: it is still running, or the process died before it could write one.</div>"
            )
        status = answer.get("status")
        out = []
        if status == "done" and isinstance(answer.get("answer"), str):
            out.append(f"<h2>Answer</h2><div class='answer'>{esc(answer['answer'])}</div>")
        else:
            title = FAILURES.get(str(status), f"Ended with status {status}")
            error = answer.get("error") or "no reason recorded"
            out.append(
                f"<h2>Outcome</h2><div class='failure' role='alert'><strong>{esc(title)}</strong>"
                f"<pre>{esc(error)}</pre></div>"
            )
        evidence = [i for i in answer.get("evidence") or [] if isinstance(i, str)]
        if evidence:
            out.append(
                "<h3>Evidence</h3><div class='figs evidence'>" + "".join(self.figure(i) for i in evidence) + "</div>"
            )
        return "".join(out)

    # -- document fixes ----------------------------------------------------------------------
    def _fixes(self) -> str:
        run = self.run
        finals: dict[str, str] = {}  # edited file -> the file it was first made from
        for e in run.edits:
            origin = finals.get(e.source, e.source)
            for w in e.written:
                finals.setdefault(w, origin)
        blocks = [self._fix(origin, edited) for edited, origin in finals.items() if edited != origin]
        blocks = [b for b in blocks if b]
        return "<h2>Document fixes</h2>" + "".join(blocks) if blocks else ""

    def _fix(self, origin: str, edited: str) -> str:
        run = self.run
        first_edit = min(e.position for e in run.edits if edited in e.written)
        last_edit = run.last_edit_of(edited) or first_edit
        before = run.last_check_of(origin, before=first_edit) or run.last_check_of(origin)
        after = run.last_check_of(edited, after=last_edit)
        head = (
            f"<h3>{self._file_link(origin)} → {self._file_link(edited)}</h3>"
            f"<p>Checks: before {esc(_counts(before))} · after {esc(_counts(after) if after else 'not checked after the last edit')}</p>"
        )
        rows = []
        for f in before.findings if before else []:
            if f.page is None or f.box is None:
                continue
            old = run.page_for(origin, f.page, before.use.position)
            new = next(
                (
                    p
                    for p in sorted(run.pages, key=lambda p: -p.position)
                    if p.file == edited and p.page == f.page and p.position > last_edit
                ),
                None,
            )
            pair = [
                self._crop_figure(old, f.box, f"before: {origin}, page {f.page}"),
                self._crop_figure(new, f.box, f"after: {edited}, page {f.page}")
                if new
                else "<p class='note'>after: the edited file's page was not rendered after the last edit</p>",
            ]
            rows.append(f"<li>{_finding_line(f)}<div class='pair'>{''.join(pair)}</div></li>")
        if not rows:
            rows = [self._page_pairs(origin, edited, last_edit)]
        remaining = [f for f in after.findings if f.severity == "error"] if after else []
        tail = (
            "<p>Still reported after the fix:</p><ul class='findings'>"
            + "".join(f"<li>{_finding_line(f)}</li>" for f in remaining)
            + "</ul>"
            if remaining
            else ""
        )
        return f"<div class='fix'>{head}<ul class='findings'>{''.join(rows)}</ul>{tail}</div>"

    def _page_pairs(self, origin: str, edited: str, last_edit: int) -> str:
        """No located finding to compare: the pages rendered both before and after, side by side."""
        run, out = self.run, []
        for page in sorted({p.page for p in run.pages if p.file == edited and p.position > last_edit})[:4]:
            old = next((p for p in run.pages if p.file == origin and p.page == page), None)
            new = max((p for p in run.pages if p.file == edited and p.page == page), key=lambda p: p.position)
            if old:
                out.append(
                    f"<li>page {page}<div class='pair'>{self.figure(old.image_id)}{self.figure(new.image_id)}</div></li>"
                )
        return "".join(out) or "<li class='note'>No page of both versions was rendered to compare.</li>"

    def _file_link(self, rel: str) -> str:
        """A link to a file in the run's home, when it is there as a regular file (not a link jailed code planted)."""
        try:
            present = ConfinedDir(self.run.path / "home").is_file(rel)
        except (ConfinedPathError, OSError):
            present = False
        shown = f"<code>{esc(rel)}</code>"
        if not present:
            return shown
        return f"<a href='home/{'/'.join(quote(part, safe='') for part in rel.split('/'))}'>{shown}</a>"

    # -- steps ---------------------------------------------------------------------------------
    def _steps(self) -> str:
        out, step, pending = [], 0, None
        for m in self.run.messages:
            if m.role == "model":
                if pending:
                    out.append(self._step(*pending))
                step += 1
                pending = (step, m, [])
            elif m.role == "tool" and pending:
                pending[2].append(m)
            else:
                if pending:
                    out.append(self._step(*pending))
                    pending = None
                out.append(self._user(m, first=step == 0))
        if pending:
            out.append(self._step(*pending))
        return "".join(out) or "<p class='note'>No transcript was recorded.</p>"

    def _user(self, m: Message, first: bool) -> str:
        chunks = []
        for p in m.parts:
            if isinstance(p, Text):
                chunks.append(f"<div class='{'text' if first else 'note'}'>{esc(p.text)}</div>")
            elif isinstance(p, Image):
                chunks.append(f"<div class='figs'>{self.figure(p.image_id)}</div>")
        title = "Task" if first else "Note to the model"
        return f"<section class='step'><h3>{title}</h3>{''.join(chunks)}</section>"

    def _step(self, n: int, m: Message, tool_messages: list[Message]) -> str:
        results = [p for t in tool_messages for p in t.parts if isinstance(p, ToolResult)]
        chunks = []
        for p in m.parts:
            if isinstance(p, Thought) and p.text:
                chunks.append(_folded(p.text, "thought", THOUGHT_FOLD_CHARS))
            elif isinstance(p, Text) and p.text:
                chunks.append(f"<div class='text'>{esc(p.text)}</div>")
            elif isinstance(p, Image):
                chunks.append(f"<div class='figs'>{self.figure(p.image_id)}</div>")
            elif isinstance(p, ToolCall):
                result = next((r for r in results if r.call_id == p.id and r.name == p.name), None)
                if result is not None:
                    results.remove(result)
                chunks.append(self._tool(p, result))
            elif isinstance(p, ToolResult):  # run by the provider, inside the reply
                chunks.append(self._tool(None, p))
        chunks.extend(self._tool(None, r) for r in results)
        turn = self.run.turns.get(n)
        timing = []
        if turn and turn.seconds is not None:
            timing.append(f"model {_duration(turn.seconds)}")
        if turn and turn.usage:
            timing.append("tokens " + _tokens(turn.usage))
        tool_seconds = [u.seconds for u in self.run.uses if u.step == n and u.seconds is not None]
        if tool_seconds:
            timing.append(f"tools {_duration(sum(tool_seconds))}")
        finish = m.meta.get("finish_reason") if isinstance(m.meta, dict) else None
        if finish not in (None, "stop", "tool_calls"):
            timing.append(f"finish: {finish}")
        time_html = f" <span class='time'>· {esc(' · '.join(timing))}</span>" if timing else ""
        return f"<section class='step' id='step-{n}'><h3>Step {n}{time_html}</h3>{''.join(chunks)}</section>"

    def _tool(self, call: ToolCall | None, result: ToolResult | None) -> str:
        name = (call or result).name
        use = self.run.use_of(result) if result is not None else None
        out = ["<div class='tool'>"]
        if call is not None:
            out.append(_call_html(call))
        if result is None:
            out.append("<div class='result note'>no result recorded</div></div>")
            return "".join(out)
        took = f" ({_duration(use.seconds)})" if use and use.seconds is not None else ""
        label = f"{name}{took}: "
        cls = "result error" if result.is_error else "result"
        out.append(f"<div class='{cls}'>{_folded(label + result.text, 'pre', FOLD_CHARS)}</div>")
        if result.image_ids:
            out.append("<div class='figs'>" + "".join(self.figure(i) for i in result.image_ids) + "</div>")
        check = self.run.check_of(use) if use else None
        if check and check.findings:
            out.append(self._findings(check))
        out.append("</div>")
        return "".join(out)

    def _findings(self, check: Check) -> str:
        items = []
        for f in check.findings:
            crop = ""
            if f.page is not None and f.box is not None:
                page = self.run.page_for(check.file, f.page, check.use.position)
                crop = self._crop_figure(page, f.box, f"{check.file}, page {f.page}")
            items.append(f"<li>{_finding_line(f)}{crop}</li>")
        return f"<ul class='findings'>{''.join(items)}</ul>"

    # -- images ----------------------------------------------------------------------------------
    def figure(self, image_id: str) -> str:
        rec = self.run.images.get(image_id)
        if rec is None:
            return f"<figure><figcaption>{esc(image_id)}: not in images/index.json</figcaption></figure>"
        file = str(rec.get("file", ""))
        linkable = IMAGE_FILE.fullmatch(file) is not None
        if image_id not in self._uris:
            self._uris[image_id] = display_uri(self.run.path / "images" / file) if linkable else ""
        uri = self._uris[image_id]
        anchor = ""
        if image_id not in self._anchored:
            self._anchored.add(image_id)
            anchor = f" id='{esc(image_id)}'"
        w, h = _int(rec.get("width")), _int(rec.get("height"))
        caption = f"<b>{esc(image_id)}</b> · {self._caption(image_id, rec)}"
        if not uri:
            return f"<figure{anchor}><figcaption>{caption} (the file could not be shown)</figcaption></figure>"
        href = f"images/{quote(file)}"
        size = f" width='{w}' height='{h}'" if w and h else ""
        img = f"<a href='{href}' title='open the full-size image'><img src='{uri}' alt='{esc(image_id)}'{size}></a>"
        regions = "".join(self._region(child, rec) for child in self.run.children(image_id))
        full = f" · <a href='{href}'>full size{f' ({w}×{h})' if w and h else ''}</a>"
        return (
            f"<figure{anchor}><div class='frame'>{img}{regions}</div><figcaption>{caption}{full}</figcaption></figure>"
        )

    def _region(self, child: str, parent: dict) -> str:
        """The part of the parent a derived image shows (a zoom's region), outlined, linking to it."""
        rec = self.run.images.get(child, {})
        box = _child_box(rec, _int(parent.get("width")), _int(parent.get("height")))
        if box is None:
            return ""
        left, top, width, height = box
        style = f"left:{left:.2f}%;top:{top:.2f}%;width:{width:.2f}%;height:{height:.2f}%"
        return (
            f"<a class='region' href='#{esc(child)}' style='{style}' title='region shown in {esc(child)}'>"
            f"<span>{esc(child)}</span></a>"
        )

    def _crop_figure(self, page, box: tuple[int, int, int, int], caption: str) -> str:
        if page is None:
            return "<p class='note'>No rendering of this page in the run to show the region from.</p>"
        rec = self.run.images.get(page.image_id, {})
        file = str(rec.get("file", ""))
        crop: Crop | None = (
            page_crop(self.run.path / "images" / file, box, page.dpi) if IMAGE_FILE.fullmatch(file) else None
        )
        if crop is None:
            return "<p class='note'>The page image could not be read.</p>"
        left, top, width, height = crop.box
        mark = f"<span class='mark' style='left:{left:.2f}%;top:{top:.2f}%;width:{width:.2f}%;height:{height:.2f}%'></span>"
        img = f"<img src='{crop.uri}' alt='the region on {esc(page.image_id)}' width='{crop.width}' height='{crop.height}'>"
        return (
            f"<figure><div class='frame'>{img}{mark}</div><figcaption>{esc(caption)}, from "
            f"<a href='#{esc(page.image_id)}'>{esc(page.image_id)}</a> · "
            f"<a href='images/{quote(file)}'>whole page</a></figcaption></figure>"
        )

    def _caption(self, image_id: str, rec: dict) -> str:
        """How the image came to be, in words."""
        op, parent = str(rec.get("op", "")), rec.get("parent")
        params = rec.get("params") if isinstance(rec.get("params"), dict) else {}
        link = (
            f"<a href='#{esc(parent)}'>{esc(parent)}</a>"
            if isinstance(parent, str) and parent in self.run.images
            else ""
        )
        of, on = (f" of {link}", f" {link}") if link else ("", "")
        w, h = _int(rec.get("width")), _int(rec.get("height"))
        size = f" · {w}×{h} px" if w and h else ""
        if op == "input":
            return f"your file <code>{esc(rec.get('source') or '?')}</code>{size}"
        if op == "zoom" and all(isinstance(params.get(k), (int, float)) for k in ("x_min", "y_min", "x_max", "y_max")):
            region = f"x {params['x_min']:g}–{params['x_max']:g}, y {params['y_min']:g}–{params['y_max']:g} (of 1000)"
            return f"zoom{of} on {esc(region)}{size}"
        if op == "render":
            return f"page {esc(params.get('page', '?'))} of <code>{esc(params.get('file', '?'))}</code> at {esc(params.get('dpi', '?'))} dpi{size}"
        if op == "contact_sheet":
            pages = params.get("pages") if isinstance(params.get("pages"), list) else []
            return f"contact sheet of <code>{esc(params.get('file', '?'))}</code>, {esc(_pages(pages))}{size}"
        if op == "check":
            return f"check of <code>{esc(params.get('file', '?'))}</code>: {esc(params.get('findings', '?'))} finding(s), each boxed and numbered{size}"
        if op == "read_gauge":
            return f"read_gauge's reading drawn on{on}{size}"
        if op == "rotate":
            return f"{link} rotated by {esc(params.get('degrees', '?'))}°{size}"
        if op == "flip":
            return f"{link} flipped {esc(params.get('direction', '?'))}{size}"
        if op == "enhance":
            return f"{link} enhanced: {esc(params.get('operation', '?'))} {esc(params.get('amount', ''))}{size}"
        if op == "annotate":
            shapes = params.get("shapes") if isinstance(params.get("shapes"), list) else []
            return f"{len(shapes)} shape(s) drawn on{on}{size}"
        if op == "run_python":
            return f"written by model code as <code>{esc(params.get('file', '?'))}</code>{size}"
        words = ", ".join(f"{k} {_short(v)}" for k, v in params.items() if k != "pixel_box")
        return f"{esc(op or 'image')}{of}{(' · ' + esc(words)) if words else ''}{size}"


def _child_box(rec: dict, pw: int, ph: int) -> tuple[float, float, float, float] | None:
    """The region of its parent a derived image shows, in % of the parent, when it is a part
    of it (a zoom or crop), from the affine map each image records to its parent."""
    m = rec.get("to_parent")
    w, h = _int(rec.get("width")), _int(rec.get("height"))
    if not (isinstance(m, list) and len(m) == 6 and all(isinstance(v, (int, float)) for v in m)) or not (
        w and h and pw and ph
    ):
        return None
    a, b, c, d, e, f = m
    xs = [a * x + b * y + c for x, y in ((0, 0), (w, 0), (0, h), (w, h))]
    ys = [d * x + e * y + f for x, y in ((0, 0), (w, 0), (0, h), (w, h))]
    x0, x1 = max(0.0, min(xs)), min(float(pw), max(xs))
    y0, y1 = max(0.0, min(ys)), min(float(ph), max(ys))
    if x1 <= x0 or y1 <= y0 or (x1 - x0) * (y1 - y0) > 0.9 * pw * ph:
        return None  # the whole image again (enhanced, drawn on, rotated): nothing to outline
    return 100 * x0 / pw, 100 * y0 / ph, 100 * (x1 - x0) / pw, 100 * (y1 - y0) / ph


def _call_html(call: ToolCall) -> str:
    args = call.args if isinstance(call.args, dict) else {}
    short, long = [], []
    for k, v in args.items():
        text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
        if isinstance(v, str) and ("\n" in v or len(v) > SHORT_ARG_CHARS):
            long.append((k, v))
        elif len(text) > SHORT_ARG_CHARS:
            long.append((k, json.dumps(v, ensure_ascii=False, indent=1)))
        else:
            short.append(f"{esc(k)}={esc(json.dumps(v, ensure_ascii=False))}")
    extra = "".join(_folded(f"{k}: {v}", "pre", FOLD_CHARS) for k, v in long)
    shown = ", ".join(short + [f"{esc(k)}=…" for k, _ in long])
    return f"<div class='call'>→ <span class='name'>{esc(call.name)}</span>({shown}){extra}</div>"


def _folded(text: str, cls: str, limit: int) -> str:
    """Short text as it is; long text folded under its first line."""
    lines = text.splitlines()
    body = f"<pre>{esc(text)}</pre>" if cls == "pre" else f"<div class='{cls}'>{esc(text)}</div>"
    if len(lines) <= FOLD_LINES and len(text) <= limit:
        return body
    summary = f"{_clip(lines[0] if lines else '', 140)} … ({len(lines)} lines, {len(text):,} characters)"
    return f"<details><summary>{esc(summary)}</summary>{body}</details>"


def _finding_line(f: Finding) -> str:
    sev = f.severity if f.severity in ("error", "warning", "info") else "info"
    where = f" · page {f.page}" if f.page is not None else ""
    return (
        f"<span class='sev {sev}'>{esc(f.severity)}</span> <b>{f.number}. {esc(f.rule)}</b>{esc(where)}: "
        f"{esc(f.message)}<br><span class='note'>fix: {esc(f.fix)}</span>"
    )


def _counts(check: Check | None) -> str:
    if check is None:
        return "not checked"
    c = check.counts
    if not any(c.values()) and not check.findings:
        return "clean"
    return f"{c.get('error', 0)} error(s), {c.get('warning', 0)} warning(s), {c.get('info', 0)} note(s)"


def _tokens(usage) -> str:
    if not isinstance(usage, dict) or not usage:
        return "unknown"
    parts = [f"{usage.get('input_tokens', 0):,} in"]
    if usage.get("cached_tokens"):
        parts[0] += f" ({usage['cached_tokens']:,} cached)"
    parts.append(f"{usage.get('output_tokens', 0):,} out")
    if usage.get("thinking_tokens"):
        parts.append(f"{usage['thinking_tokens']:,} thinking")
    return ", ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds >= 0.1 else f"{seconds * 1000:.0f} ms"
    minutes, s = divmod(round(seconds), 60)
    return f"{minutes} min {s} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _when(value) -> str | None:
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S %z") if value else None
    except ValueError:
        return None


def _pages(pages: list) -> str:
    nums = [p for p in pages if isinstance(p, int)]
    if not nums:
        return "pages ?"
    if nums == list(range(nums[0], nums[-1] + 1)) and len(nums) > 1:
        return f"pages {nums[0]}–{nums[-1]}"
    return ("page " if len(nums) == 1 else "pages ") + ", ".join(map(str, nums))


def _short(value) -> str:
    return _clip(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False), 60)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(value) -> int:
    return value if isinstance(value, int) and value > 0 else 0
