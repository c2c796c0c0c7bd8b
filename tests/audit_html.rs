//! `report.html` opened in headless Chromium: the page renders (title, one matrix cell per
//! backend and scenario, a laid-out SVG sequence diagram per counterexample with one lane per
//! thread), and a screenshot is taken (`target/tmp/audit-html/report.png`).
//!
//! Chromium is Debian's `chromium` package, found on the `PATH` (`PGTABLE_CHROMIUM` names
//! another binary). Without it the test passes but says loudly that it was skipped, so that
//! `cargo test` passes on a fresh machine; with `PGTABLE_REQUIRE_BROWSER=1` (set by `.ci/run`,
//! which installs Chromium) a missing browser fails the test.
#![cfg(feature = "cli")]

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use pgtable::arch::{self, DynBackend};
use pgtable::scenario::{CATALOGUE, Expectation};

/// How long Chromium may take for one page.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);
/// The window widths the page must fit (a laptop and a wide screen), and the screenshots'
/// height.
const WIDTHS: [u32; 2] = [1000, 1400];
const HEIGHT: u32 = 3000;

fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PGTABLE_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|p| p.is_file())
}

/// Runs Chromium headless on `page` with `extra` arguments; returns its stdout.
fn chromium(browser: &Path, profile: &Path, page: &Path, extra: &[String]) -> String {
    let url = format!("file://{}", page.display());
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let start = Instant::now();
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(_) => break,
            None if start.elapsed() > BROWSER_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within {BROWSER_TIMEOUT:?}: {extra:?}");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    reader.join().expect("reader thread")
}

fn expectation(b: &dyn DynBackend, entry: usize, variant: &str) -> Expectation {
    (CATALOGUE[entry].expect)(b, variant)
}

/// One backend that must hold (x86_64 if enabled) and one historical backend when enabled.
fn selection() -> String {
    let fixed = |b: &&&dyn DynBackend| {
        CATALOGUE.iter().enumerate().any(|(i, e)| {
            e.variants
                .iter()
                .any(|v| expectation(**b, i, v) == Expectation::Holds)
        })
    };
    let historical = |b: &&&dyn DynBackend| {
        CATALOGUE.iter().enumerate().any(|(i, e)| {
            e.variants
                .iter()
                .any(|v| matches!(expectation(**b, i, v), Expectation::Violation(_)))
        })
    };
    let mut names: Vec<&str> = Vec::new();
    names.extend(
        arch::BACKENDS
            .iter()
            .filter(fixed)
            .find(|b| b.id().name() == "x86_64")
            .or_else(|| arch::BACKENDS.iter().find(fixed))
            .map(|b| b.id().name()),
    );
    names.extend(
        arch::BACKENDS
            .iter()
            .find(historical)
            .map(|b| b.id().name()),
    );
    format!("--arch={}", names.join(","))
}

/// Returns the value of attribute `name` in the tag starting at `tag`.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let end = tag.find('>')?;
    let tag = &tag[..end];
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// What the test says when it finds no browser; `.ci/run` looks for this line.
const SKIP_NOTICE: &str = "SKIPPED report_html_renders_in_headless_chromium: chromium not found";

/// Returns the browser, or `None` after saying loudly that the test is skipped.
///
/// # Panics
/// When there is no browser and `PGTABLE_REQUIRE_BROWSER=1`.
fn browser_or_skip() -> Option<PathBuf> {
    if let Some(browser) = find_chromium() {
        return Some(browser);
    }
    let how = "install Debian's `chromium` package (`apt-get install chromium`) or point \
               PGTABLE_CHROMIUM at a Chromium binary";
    if std::env::var_os("PGTABLE_REQUIRE_BROWSER").is_some_and(|v| v == "1") {
        panic!(
            "chromium not found and PGTABLE_REQUIRE_BROWSER=1: this test opens report.html \
             in headless Chromium; {how}"
        );
    }
    // Straight to the process's stderr: libtest hides a passing test's eprintln! output.
    let _ = writeln!(
        std::io::stderr().lock(),
        "\n*** {SKIP_NOTICE} (the HTML report was not checked in a browser; {how}, or set \
         PGTABLE_REQUIRE_BROWSER=1 to make this a failure) ***\n"
    );
    None
}

#[test]
fn report_html_renders_in_headless_chromium() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let dir = common::scratch_dir("audit-html", "report");

    // A failing audit: the mutated fixed split gives a counterexample on every backend, and
    // a historical backend (when enabled) one more.
    let sel = selection();
    let out = Command::new(env!("CARGO_BIN_EXE_pgtable"))
        .args([
            "audit",
            sel.as_str(),
            "--mutate=split-skips-tlb-flush",
            "--law-flag-subsets=4096",
            "--format=json,html",
            "--out",
        ])
        .arg(&dir)
        .output()
        .expect("pgtable runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap())
            .expect("report.json");
    let page = dir.join("report.html");

    // The rendered DOM (after layout and the page's inline script), at each width: no
    // horizontal overflow of the page, nor of any scroll box (the laws table, the diagrams).
    let mut dom = String::new();
    for width in WIDTHS {
        dom = chromium(
            &browser,
            &dir.join(format!("profile-dom-{width}")),
            &page,
            &[
                "--dump-dom".to_string(),
                format!("--window-size={width},{HEIGHT}"),
            ],
        );
        let root = &dom[dom.find("<html").expect("the html element")..];
        assert_eq!(
            attr(root, "data-page-overflow"),
            Some("0"),
            "the page overflows horizontally at {width} px"
        );
        for (i, _) in dom.match_indices(r#"<div class="scroll""#) {
            assert_eq!(
                attr(&dom[i..], "data-overflow"),
                Some("0"),
                "a box overflows at {width} px: {}",
                &dom[i..(i + 200).min(dom.len())]
            );
        }
    }
    assert!(
        dom.contains("<title>pgtable audit report: FAILED</title>"),
        "no title in the rendered DOM:\n{}",
        &dom[..dom.len().min(2000)]
    );
    let backends = report["backends"].as_array().unwrap().len();
    let columns: usize = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["variants"].as_array().unwrap().len())
        .sum();
    // The matrix: one or more tables (a scenario's variants in one), every cell once.
    assert!(dom.contains(r#"id="matrix""#), "the matrix");
    let mut cells = 0;
    for (i, _) in dom.match_indices(r#"class="matrix""#) {
        let table = &dom[i..];
        let table = &table[..table.find("</table>").expect("a matrix table ends")];
        cells += table.matches(r#"<td class="cell "#).count();
    }
    assert_eq!(cells, backends * columns, "matrix cells");

    // One diagram per counterexample, one lane per thread, laid out with a real size.
    let traces = report["traces"].as_array().unwrap();
    assert!(!traces.is_empty());
    let svgs: Vec<&str> = dom
        .match_indices("<svg class=\"sequence\"")
        .map(|(i, _)| {
            let rest = &dom[i..];
            &rest[..rest.find("</svg>").expect("svg ends")]
        })
        .collect();
    assert_eq!(svgs.len(), traces.len());
    for (svg, t) in svgs.iter().zip(traces) {
        let threads = t["threads"].as_array().unwrap().len();
        assert_eq!(attr(svg, "data-lanes"), Some(threads.to_string().as_str()));
        assert_eq!(svg.matches(r#"<g class="lane""#).count(), threads, "lanes");
        let steps = t["steps"].as_array().unwrap().len();
        assert_eq!(svg.matches(r#"<g class="step"#).count(), steps, "steps");
        assert_eq!(svg.matches(r#"class="violating-row""#).count(), 1);
        let rendered = attr(svg, "data-rendered").expect("laid out by the browser");
        let (w, h) = rendered.split_once('x').expect("WxH");
        let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
        assert!(
            w > 400 && h > 100 + 20 * steps as u32,
            "rendered {rendered}"
        );
    }

    // The glossary defines every invariant and law id that appears on the page, and the
    // ids in the law table's head and the counterexample headings link to it.
    let glossary = &dom[dom.find(r#"<section id="glossary""#).expect("a glossary")..];
    for prefix in ["INV-", "LAW-"] {
        for (i, _) in dom.match_indices(prefix) {
            let id: String = dom[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if id.len() <= prefix.len() {
                continue; // the prefix itself, in prose
            }
            assert!(
                glossary.contains(&format!(r#"<dt id="{id}">"#)),
                "{id} appears on the page but the glossary does not define it"
            );
        }
    }
    for t in traces {
        let inv = t["invariant"].as_str().unwrap();
        assert!(
            dom.contains(&format!(r##"<a href="#{inv}">{inv}</a>"##)),
            "{inv} link"
        );
    }

    // A failed report lists every failed cell with its reason, without hovering.
    let failures = &dom[dom
        .find(r#"<section id="failures""#)
        .expect("a Failed cells section")..];
    let failures = &failures[..failures.find("</section>").unwrap()];
    for c in report["cells"].as_array().unwrap() {
        let key = format!(
            "{}/{}/{}",
            c["scenario"].as_str().unwrap(),
            c["backend"].as_str().unwrap(),
            c["variant"].as_str().unwrap()
        );
        let listed = failures.contains(&format!("<code>{key}</code>: expected"));
        assert_eq!(
            listed,
            c["met"] == false,
            "{key} in Failed cells: {failures}"
        );
    }

    // The pictures, one per width (look at them: target/tmp/audit-html-*/report-*.png).
    for width in WIDTHS {
        let png = dir.join(format!("report-{width}.png"));
        chromium(
            &browser,
            &dir.join(format!("profile-shot-{width}")),
            &page,
            &[
                format!("--screenshot={}", png.display()),
                format!("--window-size={width},{HEIGHT}"),
            ],
        );
        let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
        let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        assert_eq!((w, h), (width, HEIGHT));
        // A blank page of this size compresses to a few KiB; tables, text and diagrams do not.
        assert!(bytes.len() > 60_000, "screenshot of {} bytes", bytes.len());
        eprintln!("screenshot: {}", png.display());
    }
}
