//! `report.html`: one self-contained page (inline CSS, no fonts, images or scripts fetched) with
//! the matrix, the law table, the encoding table and every counterexample drawn as an SVG
//! sequence diagram: one lane per thread, steps from top to bottom, beside each step the lock
//! it takes or releases and every entry it touches, raw and decoded; the violating step is
//! highlighted.

use core::fmt::Write as _;
use std::string::{String, ToString};
use std::vec::Vec;

use super::markdown::{law_table, provenance};
use super::text::{columns, expected_phrase, find_cell, found_phrase, statuses};
use super::{
    CacheRecord, LawVerdict, Report, Status, StepRecord, TouchRecord, TraceRecord, VmaRecord,
};

/// Escapes text for HTML and SVG (element content and quoted attributes).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 24px 32px; color: #1d232a; background: #fff; line-height: 1.45; }
h1 { margin: 0 0 4px 0; font-size: 26px; }
h2 { margin-top: 36px; border-bottom: 1px solid #d7dce1; padding-bottom: 4px; font-size: 20px; }
h3 { font-size: 16px; margin: 28px 0 6px 0; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
.result { display: inline-block; padding: 2px 10px; border-radius: 4px; font-weight: 700; color: #fff; }
.result.passed { background: #1f7a3a; } .result.failed { background: #b3261e; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; margin: 12px 0; font-size: 14px; }
dl.meta dt { color: #5b6570; } dl.meta dd { margin: 0; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #d7dce1; padding: 4px 8px; text-align: left; vertical-align: top; }
thead th { background: #f1f3f5; }
tbody th { background: #f8f9fa; font-weight: 600; white-space: nowrap; }
td.cell { white-space: nowrap; font-weight: 600; }
table.matrix th, table.matrix td { padding: 4px 5px; }
table.matrix thead th { font-size: 11.5px; overflow-wrap: anywhere; min-width: 4.5em; }
td.cell .n { display: block; font-weight: 400; font-size: 11.5px; color: #5b6570; }
td.cell a { color: inherit; }
.s-found { background: #fff4d6; color: #7a4d00; }
.s-holds { background: #e3f4e7; color: #1f6a34; }
.s-not-applicable { background: #f4f5f6; color: #7b848d; }
.failed-cell { background: #fbe0de; color: #9d1c14; outline: 2px solid #b3261e; outline-offset: -2px; }
.law-holds { color: #1f6a34; } .law-na { color: #9aa2aa; } .law-deviation { color: #7a4d00; background: #fff4d6; }
.law-violated { color: #fff; background: #b3261e; font-weight: 700; }
.law-violated-expected { color: #7a4d00; background: #fff4d6; font-weight: 700; }
table.laws td { text-align: center; padding: 3px 4px; font-size: 12px; }
table.laws tbody th { white-space: normal; font-size: 12px; }
table.laws thead th { font-size: 11px; overflow-wrap: anywhere; min-width: 3.5em; }
table.laws th a, article.counterexample h3 a { color: inherit; }
dl.glossary { display: grid; grid-template-columns: max-content auto; gap: 4px 14px; font-size: 13.5px; }
dl.glossary dt { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
dl.glossary dd { margin: 0; }
dl.glossary :target { background: #fff4d6; }
ul.failures li { margin: 4px 0; }
svg.sequence .idle { fill: #5b6570; font-style: italic; }
ul.legend { font-size: 13.5px; padding-left: 20px; }
.scroll { overflow-x: auto; max-width: 100%; }
article.counterexample { margin-bottom: 28px; }
article.counterexample p { margin: 4px 0; font-size: 14px; }
svg.sequence { box-sizing: border-box; max-width: 100%; height: auto; display: block; margin-top: 8px; border: 1px solid #d7dce1; border-radius: 4px; background: #fff; }
svg.sequence text { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; fill: #1d232a; }
svg.sequence .lane-head { fill: #e8eef5; stroke: #8aa1b8; }
svg.sequence .lane-name { font-weight: 700; fill: #24415e; }
svg.sequence .lifeline { stroke: #8aa1b8; stroke-dasharray: 4 4; }
svg.sequence .connector { stroke: #c3ccd5; stroke-dasharray: 1 3; }
svg.sequence .marker { fill: #24415e; }
svg.sequence .num { fill: #5b6570; }
svg.sequence .label { font-weight: 700; }
svg.sequence .lock { fill: #6b3fa0; }
svg.sequence .lock-chip { fill: #f1eafa; stroke: #b79ad9; }
svg.sequence .place { font-weight: 700; fill: #1f5fa8; }
svg.sequence .read { fill: #6a737c; }
svg.sequence .row-alt { fill: #f8f9fa; }
svg.sequence .violating-row { fill: #fde3e1; stroke: #b3261e; stroke-width: 1.5; }
svg.sequence .violating-marker { fill: #b3261e; }
svg.sequence .violation { fill: #b3261e; font-weight: 700; }
"#;

/// Character width of the SVG's 12px monospace font, rounded up.
const CHAR_W: f64 = 7.4;
/// Height of one text line in the diagram.
const LINE_H: f64 = 16.0;
/// Height of the lane heads.
const HEAD_H: f64 = 28.0;
/// Left column (step numbers).
const NUM_W: f64 = 40.0;
/// Padding above and below a step row.
const ROW_PAD: f64 = 6.0;

fn text_w(s: &str) -> f64 {
    s.chars().count() as f64 * CHAR_W
}

/// The lines written beside a touched entry: place, then raw and decoded before and after.
fn touch_lines(t: &TouchRecord) -> Vec<(String, String, bool)> {
    if t.written {
        std::vec![
            (
                t.place.clone(),
                std::format!("before {}", t.before.decoded),
                true
            ),
            (
                String::new(),
                std::format!("after  {}", t.after.decoded),
                true
            ),
        ]
    } else {
        std::vec![(
            t.place.clone(),
            std::format!("read   {}", t.before.decoded),
            false
        )]
    }
}

/// The lines written beside a changed VMA, as for an entry.
fn vma_lines(v: &VmaRecord) -> [(String, String, bool); 2] {
    [
        (v.place.clone(), std::format!("before {}", v.before), true),
        (String::new(), std::format!("after  {}", v.after), true),
    ]
}

/// The lines written beside a page-cache store, as for an entry.
fn cache_lines(c: &CacheRecord) -> [(String, String, bool); 2] {
    [
        (c.place.clone(), std::format!("before {}", c.before), true),
        (String::new(), std::format!("after  {}", c.after), true),
    ]
}

/// Every detail line of a step: its entries, its VMAs, then its page-cache stores.
fn detail_lines(s: &StepRecord) -> Vec<(String, String, bool)> {
    let mut lines: Vec<_> = s.touched.iter().flat_map(touch_lines).collect();
    lines.extend(s.vmas.iter().flat_map(vma_lines));
    lines.extend(s.cache.iter().flat_map(cache_lines));
    lines
}

/// Draws one counterexample as an SVG sequence diagram.
pub fn sequence_svg(t: &TraceRecord) -> String {
    let lanes = t.threads.len().max(1);
    let lane_w = t
        .threads
        .iter()
        .map(|n| text_w(n) + 28.0)
        .fold(104.0, f64::max);
    let detail_x = NUM_W + lane_w * lanes as f64 + 18.0;
    let place_w = t
        .steps
        .iter()
        .flat_map(detail_lines)
        .map(|(place, _, _)| text_w(&place) + 12.0)
        .fold(0.0, f64::max);
    let violating = t.violating_step();

    // Lay out the rows first: each step's height depends on what it touched.
    struct Row {
        y: f64,
        h: f64,
    }
    let mut rows = Vec::with_capacity(t.steps.len());
    let mut y = HEAD_H + 20.0;
    let mut width: f64 = detail_x + 200.0;
    for s in &t.steps {
        let mut lines = 1;
        let mut w = text_w(&s.label) + s.lock.as_ref().map_or(0.0, |l| text_w(l) + 60.0);
        for (_, text, _) in detail_lines(s) {
            lines += 1;
            w = w.max(place_w + text_w(&text));
        }
        if let Some(v) = &s.violated {
            lines += 1;
            w = w.max(text_w(&std::format!(
                "VIOLATED {}: {}",
                v.invariant,
                v.what
            )));
        }
        width = width.max(detail_x + w + 16.0);
        let h = lines as f64 * LINE_H + 2.0 * ROW_PAD;
        rows.push(Row { y, h });
        y += h;
    }
    // Threads that never ran: one thread alone broke the invariant, and the idle lanes say so.
    let idle: Vec<&str> = t
        .threads
        .iter()
        .enumerate()
        .filter(|(i, _)| !t.steps.iter().any(|s| usize::from(s.thread) == *i))
        .map(|(_, n)| n.as_str())
        .collect();
    let idle_note = (!idle.is_empty()).then(|| {
        std::format!(
            "{}: not scheduled before the {}",
            idle.join(", "),
            if violating.is_some() {
                "violation"
            } else {
                "end of the trace"
            }
        )
    });
    let idle_y = y + LINE_H;
    if let Some(note) = &idle_note {
        width = width.max(NUM_W + text_w(note) + 16.0);
        y += LINE_H + 8.0;
    }
    let height = y + 16.0;
    let width = width.ceil();

    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="sequence" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" data-lanes="{}" data-steps="{}" role="img" aria-label="{}">"#,
        t.threads.len(),
        t.steps.len(),
        escape(&std::format!(
            "{} on {}: {} steps, {} threads",
            t.scenario,
            t.backend,
            t.steps.len(),
            t.threads.len()
        ))
    );
    // Row backgrounds (alternating, the violating one highlighted).
    for (i, (s, r)) in t.steps.iter().zip(&rows).enumerate() {
        if Some(i) == violating {
            let _ = write!(
                out,
                r#"<rect class="violating-row" data-step="{}" x="2" y="{}" width="{}" height="{}" rx="3"/>"#,
                s.index,
                r.y,
                width - 4.0,
                r.h
            );
        } else if i % 2 == 1 {
            let _ = write!(
                out,
                r#"<rect class="row-alt" x="1" y="{}" width="{}" height="{}"/>"#,
                r.y,
                width - 2.0,
                r.h
            );
        }
    }
    // Lanes: a head with the thread name and a lifeline.
    for (i, name) in t.threads.iter().enumerate() {
        let cx = NUM_W + lane_w * (i as f64 + 0.5);
        let _ = write!(
            out,
            r#"<g class="lane" data-thread="{}"><rect class="lane-head" x="{}" y="8" width="{}" height="{HEAD_H}" rx="4"/><text class="lane-name" x="{cx}" y="{}" text-anchor="middle">{}</text><line class="lifeline" x1="{cx}" y1="{}" x2="{cx}" y2="{}"/></g>"#,
            escape(name),
            cx - (lane_w - 16.0) / 2.0,
            lane_w - 16.0,
            8.0 + HEAD_H / 2.0 + 4.0,
            escape(name),
            8.0 + HEAD_H,
            height - 8.0
        );
    }
    // Steps.
    for (i, (s, r)) in t.steps.iter().zip(&rows).enumerate() {
        let is_violating = Some(i) == violating;
        let cx = NUM_W + lane_w * (f64::from(s.thread) + 0.5);
        let base = r.y + ROW_PAD + 12.0;
        let _ = write!(
            out,
            r#"<g class="step{}" data-step="{}" data-thread="{}"><title>{}</title>"#,
            if is_violating { " violating" } else { "" },
            s.index,
            escape(&s.thread_name),
            escape(&std::format!(
                "step {}: {} — {}",
                s.index,
                s.thread_name,
                s.label
            ))
        );
        let _ = write!(
            out,
            r#"<text class="num" x="{}" y="{base}" text-anchor="end">{}</text>"#,
            NUM_W - 8.0,
            s.index
        );
        let _ = write!(
            out,
            r#"<line class="connector" x1="{}" y1="{}" x2="{}" y2="{}"/>"#,
            cx + 7.0,
            base - 4.0,
            detail_x - 6.0,
            base - 4.0
        );
        let _ = write!(
            out,
            r#"<circle class="{}" cx="{cx}" cy="{}" r="6"/>"#,
            if is_violating {
                "violating-marker"
            } else {
                "marker"
            },
            base - 4.0
        );
        let _ = write!(
            out,
            r#"<text class="label" x="{detail_x}" y="{base}">{}</text>"#,
            escape(&s.label)
        );
        if let Some(lock) = &s.lock {
            let x = detail_x + text_w(&s.label) + 12.0;
            let w = text_w(&std::format!("lock {lock}")) + 12.0;
            let _ = write!(
                out,
                r#"<rect class="lock-chip" x="{x}" y="{}" width="{w}" height="15" rx="7"/><text class="lock" x="{}" y="{base}">lock {}</text>"#,
                base - 11.5,
                x + 6.0,
                escape(lock)
            );
        }
        let mut ly = base;
        for (place, text, written) in detail_lines(s) {
            ly += LINE_H;
            if !place.is_empty() {
                let _ = write!(
                    out,
                    r#"<text class="place" x="{detail_x}" y="{ly}">{}</text>"#,
                    escape(&place)
                );
            }
            let _ = write!(
                out,
                r#"<text class="{}" x="{}" y="{ly}">{}</text>"#,
                if written { "entry" } else { "entry read" },
                detail_x + place_w,
                escape(&text)
            );
        }
        if let Some(v) = &s.violated {
            ly += LINE_H;
            let _ = write!(
                out,
                r#"<text class="violation" x="{detail_x}" y="{ly}">VIOLATED {}: {}</text>"#,
                escape(&v.invariant),
                escape(&v.what)
            );
        }
        out.push_str("</g>");
    }
    if let Some(note) = &idle_note {
        let _ = write!(
            out,
            r#"<text class="idle" x="{NUM_W}" y="{idle_y}">{}</text>"#,
            escape(note)
        );
    }
    out.push_str("</svg>");
    out
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Found => "s-found",
        Status::Holds => "s-holds",
        Status::NotApplicable => "s-not-applicable",
        _ => "failed-cell",
    }
}

fn law_class(verdict: Option<LawVerdict>) -> &'static str {
    match verdict {
        Some(LawVerdict::Holds) => "law-holds",
        Some(LawVerdict::Deviation) => "law-deviation",
        Some(LawVerdict::Violated) => "law-violated",
        Some(LawVerdict::NotApplicable) | None => "law-na",
    }
}

fn trace_anchor(report: &Report, id: &str) -> Option<String> {
    report
        .traces
        .iter()
        .position(|t| t.id == id)
        .map(|i| std::format!("trace-{}", i + 1))
}

/// Most scenario columns in one matrix table: more and the table outgrows a 1000-pixel window,
/// so the columns are dealt into several tables, a scenario's variants kept together.
const MATRIX_COLUMNS: usize = 8;

fn write_matrix(out: &mut String, report: &Report) {
    // The columns by scenario, then the scenarios dealt into tables of at most
    // MATRIX_COLUMNS columns (a scenario with more gets a table of its own).
    let mut groups: Vec<Vec<super::text::Column>> = Vec::new();
    for c in columns(report) {
        match groups.last_mut() {
            Some(g) if g[0].scenario == c.scenario => g.push(c),
            _ => groups.push(std::vec![c]),
        }
    }
    let mut chunks: Vec<Vec<super::text::Column>> = Vec::new();
    for g in groups {
        match chunks.last_mut() {
            Some(chunk) if chunk.len() + g.len() <= MATRIX_COLUMNS => chunk.extend(g),
            _ => chunks.push(g),
        }
    }
    for (i, cols) in chunks.iter().enumerate() {
        write_matrix_table(out, report, cols, i == 0);
    }
    out.push_str(r#"<ul class="legend">"#);
    for s in statuses(report) {
        let _ = write!(
            out,
            r#"<li><span class="{}">&nbsp;{}&nbsp;</span> {}</li>"#,
            status_class(s),
            escape(s.word()),
            escape(s.meaning())
        );
    }
    out.push_str("<li>Each number: the states explored. Hover a cell for its expectation and verdict.</li></ul>");
    out.push_str(r#"<ul class="legend">"#);
    for s in &report.scenarios {
        let _ = write!(
            out,
            "<li><code>{}</code> ({}): {}</li>",
            escape(&s.id),
            escape(&s.variants.join(", ")),
            escape(&s.title)
        );
    }
    out.push_str("</ul>");
}

fn write_matrix_table(
    out: &mut String,
    report: &Report,
    cols: &[super::text::Column],
    first: bool,
) {
    let _ = write!(
        out,
        r#"<div class="scroll"><table{} class="matrix"><thead><tr><th>backend</th>"#,
        if first { r#" id="matrix""# } else { "" }
    );
    for c in cols {
        let title = report
            .scenarios
            .iter()
            .find(|s| s.id == c.scenario)
            .map_or(String::new(), |s| {
                std::format!("{} ({})", s.title, c.variant)
            });
        let _ = write!(
            out,
            r#"<th title="{}">{}</th>"#,
            escape(&title),
            escape(&c.header)
        );
    }
    out.push_str("</tr></thead><tbody>");
    for b in &report.backends {
        let _ = write!(out, r#"<tr><th scope="row">{}</th>"#, escape(&b.name));
        for col in cols {
            let Some(cell) = find_cell(report, &b.name, col) else {
                out.push_str(r#"<td class="cell missing">-</td>"#);
                continue;
            };
            let trace = cell
                .trace
                .as_ref()
                .and_then(|id| report.traces.iter().find(|t| &t.id == id));
            let title = std::format!(
                "{} on {} ({}): {}; {}",
                cell.scenario,
                cell.backend,
                cell.variant,
                expected_phrase(cell),
                found_phrase(cell, trace)
            );
            let word = escape(cell.status.word());
            let n = match cell.status {
                Status::NotApplicable | Status::Error => String::new(),
                _ => std::format!(
                    r#"<span class="n">{} states</span>"#,
                    escape(&super::group(cell.states))
                ),
            };
            let body = match cell
                .trace
                .as_deref()
                .and_then(|id| trace_anchor(report, id))
            {
                Some(anchor) => std::format!(r##"<a href="#{anchor}">{word}</a>{n}"##),
                None => std::format!("{word}{n}"),
            };
            let _ = write!(
                out,
                r#"<td class="cell {} {}" data-status="{}" title="{}">{body}</td>"#,
                status_class(cell.status),
                if cell.met { "met" } else { "failed" },
                escape(cell.status.word()),
                escape(&title)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
}

fn write_laws(out: &mut String, report: &Report) {
    let (header, rows) = law_table(report);
    out.push_str(r#"<div class="scroll"><table id="laws" class="laws"><thead><tr>"#);
    for (h, law) in header
        .iter()
        .zip(core::iter::once(None).chain(report.laws.iter().map(Some)))
    {
        match law {
            Some(l) => {
                let _ = write!(
                    out,
                    r##"<th title="{}"><a href="#{}">{}</a></th>"##,
                    escape(&std::format!("{}: {}", l.id, l.statement)),
                    escape(&l.id),
                    escape(h)
                );
            }
            None => {
                let _ = write!(out, "<th>{}</th>", escape(h));
            }
        }
    }
    out.push_str("</tr></thead><tbody>");
    for (row, b) in rows.iter().zip(&report.backends) {
        let _ = write!(out, r#"<tr><th scope="row">{}</th>"#, escape(&row[0]));
        for (v, law) in row.iter().skip(1).zip(&report.laws) {
            let record = b.laws.iter().find(|l| l.law == law.id);
            let note = record.map_or(String::new(), |l| {
                let mut t =
                    std::format!("{} on {}: {} ({} cases)", l.law, b.name, l.verdict, l.cases);
                if !l.note.is_empty() {
                    let _ = write!(t, "; {}", l.note);
                }
                if let Some(w) = &l.witness {
                    let _ = write!(t, "; input {:#x} gave {:#x}: {}", w.input, w.output, w.what);
                }
                t
            });
            let class = match law_class(record.map(|l| l.verdict)) {
                "law-violated" if b.historical => "law-violated-expected",
                c => c,
            };
            let _ = write!(
                out,
                r#"<td class="{}" title="{}">{}</td>"#,
                class,
                escape(&note),
                escape(v)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    let noted: Vec<String> = report
        .backends
        .iter()
        .flat_map(|b| {
            b.laws
                .iter()
                .filter(|l| l.verdict.failed_a_case())
                .map(move |l| {
                    std::format!(
                        "<li><b>{}</b> <code>{}</code> ({}){}</li>",
                        escape(&b.name),
                        escape(&l.law),
                        l.verdict.name(),
                        if l.note.is_empty() {
                            String::new()
                        } else {
                            std::format!(": {}", escape(&l.note))
                        }
                    )
                })
        })
        .collect();
    if !noted.is_empty() {
        let _ = write!(out, r#"<ul class="legend">{}</ul>"#, noted.concat());
    }
    out.push_str(r#"<ul class="legend">"#);
    for l in &report.laws {
        let _ = write!(
            out,
            "<li><code>{}</code>: {}</li>",
            escape(&l.id),
            escape(&l.statement)
        );
    }
    out.push_str("</ul>");
}

/// Renders the pipe table of `pgtable arches` (and its footnotes) as HTML.
fn write_encodings(out: &mut String, table: &str) {
    out.push_str(r#"<div class="scroll"><table id="encodings" class="mono">"#);
    let mut first = true;
    let mut notes = Vec::new();
    for line in table.lines() {
        let l = line.trim();
        if !l.starts_with('|') {
            if !l.is_empty() {
                notes.push(l);
            }
            continue;
        }
        let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
        if cells
            .iter()
            .all(|c| !c.is_empty() && c.chars().all(|ch| ch == '-'))
        {
            continue;
        }
        let tag = if first { "th" } else { "td" };
        out.push_str("<tr>");
        for c in cells {
            let _ = write!(out, "<{tag}>{}</{tag}>", escape(c));
        }
        out.push_str("</tr>");
        first = false;
    }
    out.push_str("</table></div>");
    for n in notes {
        let _ = write!(out, "<p>{}</p>", escape(n));
    }
}

/// Writes the "Failed cells" section: every cell whose expectation failed, with its reason
/// (nothing when every expectation held).
fn write_failures(out: &mut String, report: &Report) {
    let failed: Vec<_> = report.cells.iter().filter(|c| !c.met).collect();
    if failed.is_empty() {
        return;
    }
    let _ = write!(
        out,
        r#"<section id="failures"><h2>Failed cells</h2><p>{} of {} cells failed their expectation:</p><ul class="failures">"#,
        failed.len(),
        report.cells.len()
    );
    for c in failed {
        let trace = c
            .trace
            .as_deref()
            .and_then(|id| report.traces.iter().find(|t| t.id == id));
        let link = c
            .trace
            .as_deref()
            .and_then(|id| trace_anchor(report, id))
            .map_or(String::new(), |a| {
                std::format!(r##" (<a href="#{a}">counterexample</a>)"##)
            });
        let _ = write!(
            out,
            "<li><code>{}</code>: {}; {}{link}.</li>",
            escape(&c.key()),
            escape(&expected_phrase(c)),
            escape(&found_phrase(c, trace))
        );
    }
    out.push_str("</ul></section>\n");
}

/// Writes the glossary: every invariant and law id on the page with its statement, each an
/// anchor the ids elsewhere on the page link to.
fn write_glossary(out: &mut String, report: &Report) {
    out.push_str(r#"<section id="glossary"><h2>Glossary</h2><p>Every invariant (<code>INV-</code>) a cell checked and every law (<code>LAW-</code>) a backend is held to; the ids are stable and listed in docs/MODEL.md.</p><dl class="glossary">"#);
    for s in report.invariants.iter().chain(&report.laws) {
        let _ = write!(
            out,
            r#"<dt id="{}">{}</dt><dd>{}</dd>"#,
            escape(&s.id),
            escape(&s.id),
            escape(&s.statement)
        );
    }
    out.push_str("</dl></section>\n");
}

/// Renders `report.html`.
pub fn render(report: &Report) -> String {
    let passed = report.summary.passed;
    let result = if passed { "PASSED" } else { "FAILED" };
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>pgtable audit report: {result}</title>
<style>{STYLE}</style></head><body>
<header><h1>pgtable audit report</h1><span id="result" class="result {}">{result}</span>
<dl class="meta">"#,
        if passed { "passed" } else { "failed" }
    );
    for (k, v) in provenance(report) {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", escape(&k), escape(&v));
    }
    out.push_str("</dl></header>\n<section><h2>Matrix</h2><p>Backends as rows, scenarios as columns; each cell is the verdict against the expectation, with the states explored.</p>");
    write_matrix(&mut out, report);
    out.push_str("</section>\n<section><h2>Laws</h2><p>Each backend against every law (<code>LAW-</code> prefix dropped): <i>holds</i>, <i>deviation</i> (fails exactly where the backend documents that Linux does), <i>n/a</i>, or <i>VIOLATED</i> (expected only of a historical backend, whose bug it is). Hover a cell for details.</p>");
    write_laws(&mut out, report);
    out.push_str("</section>\n");
    if let Some(e) = &report.encodings {
        out.push_str("<section><h2>Encodings</h2><p>What <code>pgtable arches</code> prints.</p>");
        write_encodings(&mut out, &e.table);
        out.push_str("</section>\n");
    }
    write_failures(&mut out, report);
    out.push_str(r#"<section id="counterexamples"><h2>Counterexamples</h2>"#);
    if report.traces.is_empty() {
        out.push_str("<p>None: no cell broke an invariant.");
        if report.summary.failed > 0 {
            out.push_str(
                r##" The failed cells are listed under <a href="#failures">Failed cells</a>."##,
            );
        }
        out.push_str("</p>");
    }
    for (i, t) in report.traces.iter().enumerate() {
        let cell = report
            .cells
            .iter()
            .find(|c| c.trace.as_ref() == Some(&t.id));
        let tag = match cell.map(|c| c.status) {
            Some(Status::Found) => "found, as expected".to_string(),
            Some(s) => s.word().to_string(),
            None => String::new(),
        };
        let _ = write!(
            out,
            r##"<article class="counterexample {}" id="trace-{}"><h3>{}. {} on {} ({}): <a href="#{}">{}</a> <span class="{}">&nbsp;{}&nbsp;</span></h3>"##,
            if cell.is_some_and(|c| c.met) {
                "expected"
            } else {
                "unexpected"
            },
            i + 1,
            i + 1,
            escape(&t.scenario),
            escape(&t.backend),
            escape(&t.variant),
            escape(&t.invariant),
            escape(&t.invariant),
            cell.map_or("", |c| status_class(c.status)),
            escape(&tag)
        );
        if let Some(c) = cell {
            let _ = write!(
                out,
                "<p>{}; {}.</p>",
                escape(&expected_phrase(c)),
                escape(&found_phrase(c, Some(t)))
            );
        }
        let _ = write!(
            out,
            "<p>Trace id <code>{}</code>: re-run it with <code>pgtable replay report.json {}</code>.</p>",
            escape(&t.id),
            escape(&t.id)
        );
        let _ = write!(out, r#"<div class="scroll">{}</div>"#, sequence_svg(t));
        if !t.wait_cycle.is_empty() {
            let _ = write!(
                out,
                r#"<p class="wait-cycle">After the last step every remaining thread is blocked; wait-for cycle: {}.</p>"#,
                escape(&super::markdown::wait_cycle_line(t))
            );
        }
        out.push_str("</article>");
    }
    out.push_str("</section>\n");
    write_glossary(&mut out, report);
    // Records each diagram's laid-out size, each scroll box's and the page's horizontal
    // overflow on the elements, for tests that read the DOM.
    out.push_str("<script>for (const s of document.querySelectorAll('svg.sequence')) { const r = s.getBoundingClientRect(); s.setAttribute('data-rendered', Math.round(r.width) + 'x' + Math.round(r.height)); } for (const b of document.querySelectorAll('.scroll')) { b.setAttribute('data-overflow', b.scrollWidth - b.clientWidth); } const d = document.documentElement; d.setAttribute('data-page-overflow', d.scrollWidth - d.clientWidth); d.setAttribute('data-viewport', d.clientWidth);</script>\n");
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
        assert_eq!(escape("PRESENT | RW"), "PRESENT | RW");
    }
}
