"""The HTML report of a results view: one self-contained page, no script, no request.

- Nothing leaves the page: a Content-Security-Policy meta tag forbids every fetch; the one style
  block is allowed by its sha256, charts are inline SVG.
- It needs no JavaScript: the status filters are radio buttons styled with `:checked`, the
  transcripts native `<details>` blocks.
- Every text from the platform or the suites goes through `html.escape`.
- One layout from 375 px (cards) to 1,440 px (rows), by CSS grid and one media query.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Sequence
from typing import TextIO

from suitesync.baseline import Point
from suitesync.results import FAIL, PASS, UNFINISHED, AttemptRecord, CaseRecord
from suitesync.resultsview import (
    FAILING_SECTIONS,
    ResultsView,
    Row,
    agents_changed_line,
    change_note,
    delta_text,
    describe_run,
    p_text,
    summary_line,
)
from suitesync.text import plural

OPEN_FAILURES = 10  # failing cases shown open at first; the rest one click away
HISTORY_POINTS = 20  # runs drawn in a case's history chart

# (filter id, label, the row classes it keeps)
FILTERS = (
    ("all", "All", ""),
    ("failing", "Failing", "is-failing"),
    ("regressed", "Regressed", "is-regressed"),
    ("flaky", "Flaky", "is-flaky"),
    ("quarantined", "Quarantined", "is-quarantined"),
    ("passing", "Passing", "is-passing"),
)

CSS = (
    """
:root{--bg:#f6f7f9;--card:#fff;--ink:#1c2330;--muted:#5d6778;--line:#e3e6eb;--pass:#1a7f4b;
--pass-soft:#e3f4ea;--fail:#c62f2f;--fail-soft:#fbe7e7;--warn:#a15c00;--warn-soft:#fdf0da;
--info:#3559c7;--info-soft:#e6ecfb;--agent:#eef1f6;--user:#3559c7}
@media (prefers-color-scheme:dark){:root{--bg:#11151c;--card:#1a2029;--ink:#e6e9ef;--muted:#9aa4b5;
--line:#2c3440;--pass:#4cc38a;--pass-soft:#173325;--fail:#ff6b6b;--fail-soft:#3a1d1f;--warn:#f0a84a;
--warn-soft:#3a2c16;--info:#8aa6ff;--info-soft:#1f2844;--agent:#232b36;--user:#3d5fd1}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.45 system-ui,-apple-system,"Segoe UI",
Roboto,"Helvetica Neue",Arial,sans-serif}
.wrap{max-width:1200px;margin:0 auto;padding:20px 16px 48px}
header h1{font-size:22px;margin:0 0 4px}
.meta{color:var(--muted);font-size:13px;margin:0}
.meta code{font-size:12px}
.verdict{margin:14px 0 4px;font-size:17px;font-weight:600}
.verdict.bad{color:var(--fail)}.verdict.good{color:var(--pass)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(104px,1fr));gap:8px;margin:16px 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:8px 12px}
.card b{display:block;font-size:26px;line-height:1.1}
.card span{color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.04em}
.card.bad b{color:var(--fail)}.card.good b{color:var(--pass)}.card.warn b{color:var(--warn)}
.card.info b{color:var(--info)}
.banner{background:var(--warn-soft);color:var(--warn);border-radius:8px;padding:8px 12px;margin:8px 0;
font-weight:600}
.filters{display:flex;flex-wrap:wrap;gap:6px;margin:18px 0 10px}
.filters label{border:1px solid var(--line);background:var(--card);border-radius:999px;padding:4px 12px;
cursor:pointer;font-size:13px;user-select:none}
.filters label i{font-style:normal;color:var(--muted);margin-left:4px}
input.filter{position:absolute;opacity:0;pointer-events:none}
"""
    + "\n".join(
        f"#f-{key}:checked~.filters label[for=f-{key}]{{background:var(--ink);color:var(--bg);"
        f"border-color:var(--ink)}}#f-{key}:checked~.filters label[for=f-{key}] i{{color:var(--bg)}}"
        + (f"#f-{key}:checked~.cases .case:not(.{cls}){{display:none}}" if cls else "")
        for key, _, cls in FILTERS
    )
    + """
input.filter:focus-visible~.filters{outline:2px solid var(--info);outline-offset:4px;border-radius:8px}
.cases{display:flex;flex-direction:column;gap:8px}
.case{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--line);
border-radius:10px}
.case.is-failing{border-left-color:var(--fail)}.case.is-passing{border-left-color:var(--pass)}
.case.is-quarantined{border-left-color:var(--warn)}.case.is-unfinished{border-left-color:var(--muted)}
.case>summary{list-style:none;cursor:pointer;padding:10px 14px;display:grid;gap:4px 14px;
grid-template-columns:minmax(0,1fr) auto;align-items:center}
.case>summary::-webkit-details-marker{display:none}
.case>summary:focus-visible{outline:2px solid var(--info);border-radius:10px}
.name{min-width:0}
.name strong{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:14px;
overflow-wrap:anywhere}
.name small{display:block;color:var(--muted);font-size:12px;overflow-wrap:anywhere}
.tag{display:inline-block;font-size:11px;font-weight:600;border-radius:4px;padding:1px 6px;margin:2px 4px 0 0;
text-transform:uppercase;letter-spacing:.03em;vertical-align:middle}
.tag.fail{background:var(--fail-soft);color:var(--fail)}.tag.pass{background:var(--pass-soft);color:var(--pass)}
.tag.warn{background:var(--warn-soft);color:var(--warn)}.tag.info{background:var(--info-soft);color:var(--info)}
.tag.muted{background:var(--agent);color:var(--muted)}
.stats{display:flex;align-items:center;gap:12px;grid-column:1/-1;flex-wrap:wrap}
.rate{display:flex;align-items:center;gap:8px;min-width:220px;flex:1}
.rate svg{width:100%;max-width:260px;height:12px}
.rate b{font-variant-numeric:tabular-nums;min-width:44px;text-align:right}
.counts{color:var(--muted);font-size:13px;font-variant-numeric:tabular-nums}
.delta.down{color:var(--fail);font-weight:600}.delta.up{color:var(--pass);font-weight:600}
.spark{width:140px;height:30px}
.bar-track{fill:var(--line)}.bar-pass{fill:var(--pass)}.bar-fail{fill:var(--fail)}
.bar-then{stroke:var(--ink);stroke-width:2}
.spark-line{fill:none;stroke:var(--muted);stroke-width:1.5}
.dot-pass{fill:var(--pass)}.dot-fail{fill:var(--fail)}
.detail{border-top:1px solid var(--line);padding:10px 14px 14px}
.attempt{margin:10px 0 16px}
.attempt h4{margin:0 0 6px;font-size:13px;color:var(--muted);font-weight:600}
.remarks{background:var(--fail-soft);border-radius:8px;padding:8px 10px;margin:0 0 8px;font-size:14px}
.remarks b{color:var(--fail)}
.chat{display:flex;flex-direction:column;gap:6px}
.turn{max-width:min(640px,88%);padding:7px 11px;border-radius:14px;font-size:14px;white-space:pre-wrap;
overflow-wrap:anywhere}
.turn.user{align-self:flex-end;background:var(--user);color:#fff;border-bottom-right-radius:4px}
.turn.agent{align-self:flex-start;background:var(--agent);border-bottom-left-radius:4px}
.turn small{display:block;font-size:11px;opacity:.75;margin-bottom:1px}
.none{color:var(--muted);font-size:13px}
footer{color:var(--muted);font-size:12px;margin-top:24px}
@media (min-width:900px){
.case>summary{grid-template-columns:minmax(0,1.3fr) minmax(0,2fr)}
.stats{grid-column:auto;justify-content:flex-end;flex-wrap:nowrap}}
"""
)


def _csp() -> str:
    """Forbid every request (default-src 'none'); allow only this page's own style block."""
    digest = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    return f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"


def e(text: object) -> str:
    return html.escape(str(text), quote=True)


def write_results_html(view: ResultsView, out: TextIO) -> None:
    document = view.document
    title = f"suitesync results: {summary_line(document)}"
    out.write(
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv="Content-Security-Policy" content="{e(_csp())}">'
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        '<meta name=referrer content="no-referrer">'
        f"<title>{e(title)}</title><style>{CSS}</style></head><body><div class=wrap>\n"
    )
    out.write(_header(view))
    out.write(_filters(view))
    out.write("<main class=cases>\n")
    opened = 0
    for row in view.rows:
        show = row.case.verdict == FAIL and opened < OPEN_FAILURES
        opened += show
        out.write(_case(row, view, show))
    out.write("</main>\n")
    out.write(
        "<footer>Written by suitesync "
        f"{e(document.suitesync_version)}. A case passes when its passed attempts / attempts reaches its "
        "minimum pass rate. p is the two-sided Fisher exact test of (passed, failed) now against the "
        "baseline; a regression with p ≥ 0.05 is within noise. Flaky: the verdict flipped within the "
        "last 5 runs.</footer>\n</div></body></html>\n"
    )


def _header(view: ResultsView) -> str:
    document, comparison = view.document, view.comparison
    bad = bool(document.failed or document.unfinished)
    verdict = (
        f"{plural(len(document.failed), 'case')} failed" if document.failed else "Every case passed"
    ) + (f", {len(document.unfinished)} unfinished" if document.unfinished else "")
    parts = [
        "<header><h1>suitesync results</h1>",
        f"<p class=meta>{e(describe_run(document))} · {e(plural(len(document.cases), 'case'))} · "
        f"{document.seconds:.0f} s · minimum pass rate {document.min_pass_rate:.0%}"
        + (f" · lockfile serial {document.lockfile_serial}" if document.lockfile_serial else "")
        + "</p>",
    ]
    if comparison is not None:
        base = comparison.baseline
        name = base.path.name if base.path else "baseline"
        parts.append(f"<p class=meta>Baseline: <code>{e(name)}</code> ({e(describe_run(base))})</p>")
    parts.append(f"<p class='verdict {'bad' if bad else 'good'}'>{e(verdict)}</p>")
    if document.stopped:
        parts.append(f"<p class=banner>Unfinished: {e(document.stopped)}</p>")
    if comparison is not None and comparison.agents_changed:
        parts.append(f"<p class=banner>⚠ {e(agents_changed_line(comparison))}</p>")
    parts.append(_cards(view))
    parts.append("</header>\n")
    return "\n".join(parts)


def _cards(view: ResultsView) -> str:
    document, counts = view.document, view.section_counts()
    cards = [("Passed", len(document.passed), "good"), ("Failed", len(document.failed), "bad")]
    if view.comparison is not None:
        cards += [
            ("Regressed", counts.get("regressed", 0), "bad"),
            ("New failures", counts.get("new failures", 0), "bad"),
            ("Fixed", counts.get("fixed", 0), "good"),
            ("Content changed", counts.get("content changed", 0), "info"),
        ]
    cards.append(("Quarantined", len(document.quarantined), "warn"))
    cards.append(("Unfinished", len(document.unfinished), ""))
    if len(view.history) > 1:
        cards.append(("Flaky", len(view.flaky), "warn"))
    always = {"Passed", "Failed", "Regressed"}  # the rest only when there are some
    return (
        "<div class=cards>"
        + "".join(
            f"<div class='card {kind if count else ''}' data-count='{e(label.lower())}'>"
            f"<b>{count}</b><span>{e(label)}</span></div>"
            for label, count, kind in cards
            if count or label in always
        )
        + "</div>"
    )


def _filters(view: ResultsView) -> str:
    counts = {key: sum(1 for row in view.rows if cls in _classes(row)) for key, _, cls in FILTERS if cls}
    counts["all"] = len(view.rows)
    inputs = "".join(
        f"<input class=filter type=radio name=filter id=f-{key}{' checked' if key == 'all' else ''}>"
        for key, _, _ in FILTERS
    )
    labels = "".join(
        f"<label for=f-{key}>{e(label)}<i>{counts[key]}</i></label>"
        for key, label, _ in FILTERS
        if key in ("all", "failing", "passing") or counts[key]
    )
    return f"{inputs}<nav class=filters aria-label='Show'>{labels}</nav>\n"


def _classes(row: Row) -> list[str]:
    case = row.case
    classes = ["case"]
    if case.verdict == UNFINISHED:
        classes.append("is-unfinished")
    elif case.quarantine and case.verdict == FAIL:
        classes.append("is-quarantined")
    elif case.verdict == FAIL:
        classes.append("is-failing")
    else:
        classes.append("is-passing")
    if row.section == "regressed":
        classes.append("is-regressed")
    if row.flaky:
        classes.append("is-flaky")
    return classes


def _case(row: Row, view: ResultsView, opened: bool) -> str:
    case = row.case
    return (
        f"<details class='{' '.join(_classes(row))}' id='case-{e(case.id)}'{' open' if opened else ''}>"
        f"<summary>{_case_name(row)}<div class=stats>{_rate(row)}"
        + (_spark(row.history[-HISTORY_POINTS:]) if len(row.history) > 1 else "")
        + f"</div></summary><div class=detail>{_attempts(case)}</div></details>\n"
    )


def _case_name(row: Row) -> str:
    case = row.case
    tags = [_status_tag(row)]
    if row.section not in ("passing", "failed", "unfinished", "quarantined"):
        kind = "fail" if row.section in FAILING_SECTIONS else "info"
        tags.append(f"<span class='tag {kind}'>{e(row.section)}</span>")
    if row.change is not None and row.change.within_noise:
        tags.append("<span class='tag muted'>within noise</span>")
    if case.quarantine:
        tags.append("<span class='tag warn'>quarantined</span>")
    if row.flaky:
        tags.append("<span class='tag warn'>flaky</span>")
    tags += [f"<span class='tag muted'>{e(tag)}</span>" for tag in case.tags]
    label = f" · {e(case.label)}" if case.label and case.label != case.id else ""
    return (
        f"<div class=name><strong>{e(case.id)}</strong> {''.join(tags)}"
        f"<small>{e(case.source)}{label}</small></div>"
    )


def _status_tag(row: Row) -> str:
    verdict = row.case.verdict
    kind = {PASS: "pass", FAIL: "fail", UNFINISHED: "muted"}[verdict]
    return f"<span class='tag {kind}'>{e(verdict)}</span>"


def _rate(row: Row) -> str:
    case, change = row.case, row.change
    if case.verdict == UNFINISHED:
        return f"<div class=rate><span class=counts>no verdict: {e(case.unfinished or '')}</span></div>"
    rate = case.pass_rate
    then = change.then if change is not None and change.then is not None and change.then.finished else None
    fill = "bar-pass" if case.verdict == PASS else "bar-fail"
    marker = ""
    if then is not None:
        x = max(1.0, min(99.0, then.pass_rate * 100))
        marker = f"<line class=bar-then x1='{x:.1f}' x2='{x:.1f}' y1='0' y2='10'><title>baseline</title>"
        marker += "</line>"
    label = f"pass rate {rate:.0%}" + (f", baseline {then.pass_rate:.0%}" if then else "")
    bar = (
        f"<svg viewBox='0 0 100 10' preserveAspectRatio='none' role=img aria-label='{label}'>"
        "<rect class=bar-track width='100' height='10' rx='2'/>"
        f"<rect class={fill} width='{rate * 100:.1f}' height='10' rx='2'/>{marker}</svg>"
    )
    delta = delta_text(change)
    direction = "down" if delta.startswith("-") else "up" if delta.startswith("+") else ""
    counts = f"{case.counts} passed" + (f", was {then.counts}" if then else "")
    note = change_note(change) if change is not None and change.p_value is not None else ""
    p_note = f" · {p_text(change.p_value)}" if note and change and change.p_value is not None else ""
    return f"<div class=rate><b>{rate:.0%}</b>{bar}</div><span class=counts>{e(counts)}{e(p_note)}</span>" + (
        f"<span class='delta {direction}'>{e(delta)}</span>" if delta else ""
    )


def _spark(points: Sequence[Point]) -> str:
    """The case's pass rate over the last runs: a line, a dot per run (red: failed)."""
    width, height, pad = 140, 30, 4
    step = (width - 2 * pad) / max(1, len(points) - 1)
    coords = [
        (pad + i * step, pad + (1 - p.pass_rate) * (height - 2 * pad), p)
        for i, p in enumerate(points)
        if p.pass_rate is not None
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
    dots = "".join(
        f"<circle class=dot-{'pass' if p.verdict == PASS else 'fail'} cx='{x:.1f}' cy='{y:.1f}' r='2.6'>"
        f"<title>{e(p.started_at[:16].replace('T', ' '))}: {p.pass_rate:.0%}</title></circle>"
        for x, y, p in coords
    )
    return (
        f"<svg class=spark viewBox='0 0 {width} {height}' role=img "
        f"aria-label='pass rate over the last {len(points)} runs'>"
        f"<polyline class=spark-line points='{line}'/>{dots}</svg>"
    )


def _attempts(case: CaseRecord) -> str:
    failed = [(n, a) for n, a in enumerate(case.attempts, 1) if a.verdict == FAIL]
    if case.verdict == UNFINISHED:
        return f"<p class=none>No verdict: {e(case.unfinished or 'the run stopped first')}.</p>"
    if not failed:
        return f"<p class=none>All {plural(case.finished, 'attempt')} passed.</p>"
    return "".join(_attempt(number, attempt, len(case.attempts)) for number, attempt in failed)


def _attempt(number: int, attempt: AttemptRecord, total: int) -> str:
    turns = "".join(
        f"<div class='turn {'user' if turn.role == 'user' else 'agent'}'>"
        f"<small>{'simulated user' if turn.role == 'user' else 'agent'}</small>{e(turn.content)}</div>"
        for turn in attempt.conversation
    )
    ids = " · ".join(e(i) for i in (attempt.job_id, attempt.chat_id) if i)
    return (
        f"<section class=attempt><h4>Attempt {number} of {total} failed{f' · {ids}' if ids else ''}</h4>"
        f"<p class=remarks><b>Judge:</b> {e(attempt.remarks)}</p>"
        f"<div class=chat>{turns or '<p class=none>No conversation was returned.</p>'}</div></section>"
    )
