"""Human-readable views of an audit: a text table for the terminal and an HTML fragment for reports."""

from __future__ import annotations

import html
import json
from typing import Any

from ..tables import table

SEVERITY_ORDER = {"problem": 0, "warning": 1, "ok": 2, "skipped": 3}


def audit_text(audit: dict[str, Any], examples: int = 2) -> str:
    """The table (a row per check: count, severity, suggested action) plus a couple of examples per non-empty
    check."""
    data = audit["data"]
    lines = [f"audit of {data['path']}: {data['rows']:,} rows"
             + (f", {len(data['classes'])} classes" if data["classes"] else "")
             + (f"; test {audit['test']['path']}: {audit['test']['rows']:,} rows" if audit.get("test") else ""),
             "", table([{"check": c["title"], "count": c["count"], "severity": c["severity"],
                         "suggested action": c["action"]} for c in audit["checks"]])]
    for check in audit["checks"]:
        if check["count"] and check["examples"] and check["severity"] in ("problem", "warning"):
            lines.append(f"\n{check['title']} — examples:")
            for example in check["examples"][:examples]:
                lines.append("  " + json.dumps(example, ensure_ascii=False)[:300])
    return "\n".join(lines)


def audit_section_html(audit: dict[str, Any]) -> str:
    """An HTML fragment (a <section>, no <html>/<head>) summarising the audit, for embedding in a report.

    Inline styles only, every value escaped; classes `hs-audit`, `hs-problem`, `hs-warning`, `hs-ok`
    let a host page restyle it.
    """
    e = html.escape
    data = audit["data"]
    colours = {"problem": "#fde2e1", "warning": "#fff4d6", "ok": "#e6f4ea", "skipped": "#eeeeee"}
    head = (f"<p>{e(str(data['path']))}: {data['rows']:,} rows"
            + (f", classes {e(', '.join(map(str, data['classes'])))}" if data["classes"] else "")
            + (f"; test file {e(str(audit['test']['path']))} ({audit['test']['rows']:,} rows)" if audit.get("test") else "")
            + f"; backbone {e(audit['backbone']['name'])}; label errors by {e(str(audit.get('label_error_method')))}.</p>")
    rows = []
    for c in sorted(audit["checks"], key=lambda c: SEVERITY_ORDER.get(c["severity"], 9)):
        examples = "".join(f"<li><code>{e(json.dumps(x, ensure_ascii=False)[:400])}</code></li>" for x in c["examples"][:3])
        rows.append(
            f'<tr class="hs-{e(c["severity"])}" style="background:{colours.get(c["severity"], "#fff")}">'
            f"<td>{e(c['title'])}</td><td style=\"text-align:right\">{c['count']:,}</td><td>{e(c['severity'])}</td>"
            f"<td>{e(c['action'])}</td><td>{'<ul>' + examples + '</ul>' if examples else ''}</td></tr>")
    fix = audit.get("fix")
    fix_html = (f"<p>Cleaned copy: {e(fix['cleaned'])} ({fix['rows_out']:,} of {fix['rows_in']:,} rows; "
                f"{fix['dropped']:,} dropped, {fix['relabelled']:,} relabelled; every change in {e(fix['changes'])}).</p>"
                if fix else "")
    return ('<section class="hs-audit"><h2>Data audit</h2>' + head +
            '<table style="border-collapse:collapse" border="1" cellpadding="4">'
            "<thead><tr><th>check</th><th>count</th><th>severity</th><th>suggested action</th><th>examples</th></tr></thead>"
            "<tbody>" + "".join(rows) + "</tbody></table>" + fix_html + "</section>")
