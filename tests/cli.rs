//! The `pgtable` binary, run as a user runs it: output, JSON, exit status and error messages,
//! and the README blocks that show its output.
//!
//! When a README block is stale the failure prints the fresh one; `PGTABLE_BLESS=1 cargo test
//! --test cli` rewrites the README in place (after a new backend is merged, say).
#![cfg(feature = "cli")]

mod common;

use std::process::{Command, Output};

use serde_json::Value;

/// Runs `pgtable args...`.
fn pgtable(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgtable"))
        .args(args)
        .output()
        .expect("the pgtable binary runs")
}

/// Runs `pgtable args...`, expects exit 0 and an empty stderr, returns stdout.
fn ok(args: &[&str]) -> String {
    let out = pgtable(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "pgtable {args:?}: {stderr}");
    assert!(
        stderr.is_empty(),
        "pgtable {args:?} wrote to stderr: {stderr}"
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// Runs `pgtable args...`, expects exit 2, nothing on stdout and a one-line message on stderr;
/// returns the message.
fn usage_error(args: &[&str]) -> String {
    let out = pgtable(args);
    let stderr = String::from_utf8(out.stderr).expect("stderr is UTF-8");
    assert_eq!(out.status.code(), Some(2), "pgtable {args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "pgtable {args:?} wrote to stdout");
    assert!(
        !stderr.contains("panicked"),
        "pgtable {args:?} panicked: {stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "pgtable {args:?}: not one line: {stderr}"
    );
    assert!(stderr.starts_with("pgtable: error: "), "{stderr}");
    stderr
}

/// Runs `pgtable decode ... --json` and parses it.
fn decode_json(arch: &str, level: &str, value: &str) -> Value {
    let text = ok(&["decode", arch, level, value, "--json"]);
    serde_json::from_str(&text).expect("decode --json is JSON")
}

/// Returns the value of `key: ` in decode's text output.
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

/// The name of some enabled backend (clap checks level and value before the name is looked up).
fn any_arch() -> &'static str {
    pgtable::arch::BACKENDS
        .first()
        .map_or("x86_64", |b| b.id().name())
}

// --- arches ---

#[test]
fn arches_has_one_row_per_enabled_backend_in_registry_order() {
    let text = ok(&["arches"]);
    let names: Vec<&str> = text
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_start_matches('|').split('|').next().unwrap().trim())
        .collect();
    let expected: Vec<&str> = pgtable::arch::BACKENDS
        .iter()
        .map(|b| b.id().name())
        .collect();
    assert_eq!(names, expected, "{text}");
}

#[test]
fn arches_rows_are_aligned_pipe_table_lines() {
    let text = ok(&["arches"]);
    let table: Vec<&str> = text.lines().take_while(|l| l.starts_with('|')).collect();
    assert_eq!(table.len(), 2 + pgtable::arch::BACKENDS.len(), "{text}");
    let width = table[0].chars().count();
    for line in &table {
        assert_eq!(line.chars().count(), width, "ragged line {line:?}");
        assert!(line.ends_with('|'), "{line:?}");
    }
    assert!(
        table[1].chars().all(|c| c == '|' || c == '-'),
        "{}",
        table[1]
    );
}

#[cfg(feature = "x86_64")]
#[test]
fn arches_shows_x86_64_thp_and_what_pmdp_invalidate_leaves() {
    let text = ok(&["arches"]);
    let row = text
        .lines()
        .find(|l| l.starts_with("| x86_64 "))
        .expect("x86_64 row");
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(
        cells[1..7],
        [
            "x86_64",
            "64",
            "0x0",
            "0x0",
            "yes, 2 MiB",
            "present=yes none=no trans_huge=yes"
        ]
    );
}

#[test]
fn arches_json_lists_every_backend_with_its_fields() {
    let v: Value = serde_json::from_str(&ok(&["arches", "--json"])).expect("JSON");
    let rows = v["backends"].as_array().expect("backends array");
    assert_eq!(rows.len(), pgtable::arch::BACKENDS.len());
    for (row, b) in rows.iter().zip(pgtable::arch::BACKENDS) {
        assert_eq!(row["name"], b.id().name());
        assert_eq!(row["word_bits"], b.word_bits());
        assert_eq!(row["empty_pte"], format!("{:#x}", b.empty_pte(0)));
        assert_eq!(row["empty_pmd"], format!("{:#x}", b.empty_pmd()));
        assert!(row["empty_pte_depends_on_addr"].is_boolean());
        assert_eq!(row["thp"], b.geometry().has_thp);
        match b.invalidate_effect() {
            Some(e) => {
                assert_eq!(row["huge_size"], b.geometry().pmd_size());
                let inv = &row["invalidate"];
                assert_eq!(inv["before"], format!("{:#x}", e.before));
                assert_eq!(inv["after"], format!("{:#x}", e.after));
                assert_eq!(inv["present"], e.present);
                assert_eq!(inv["none"], e.none);
                assert_eq!(inv["trans_huge"], e.trans_huge);
            }
            None => assert!(row["invalidate"].is_null()),
        }
    }
}

#[test]
fn json_is_a_global_flag() {
    let before: Value = serde_json::from_str(&ok(&["--json", "arches"])).expect("JSON");
    let after: Value = serde_json::from_str(&ok(&["arches", "--json"])).expect("JSON");
    assert_eq!(before, after);
}

// --- decode (x86_64 kernel values) ---

#[cfg(feature = "x86_64")]
mod x86_64 {
    use super::*;

    // A user page: PRESENT|RW|USER|ACCESSED|DIRTY|NX with pfn 0x12345.
    #[test]
    fn a_present_user_pte_is_a_page_with_its_pfn_and_flags() {
        let text = ok(&["decode", "x86_64", "pte", "0x8000_0000_1234_5067"]);
        assert_eq!(field(&text, "arch"), "x86_64");
        assert_eq!(field(&text, "level"), "pte");
        assert_eq!(field(&text, "raw"), "0x8000000012345067");
        assert_eq!(field(&text, "kind"), "page");
        assert_eq!(field(&text, "pfn"), "0x12345");
        assert_eq!(field(&text, "swap"), "-");
        assert_eq!(field(&text, "present"), "yes");
        assert_eq!(field(&text, "protnone"), "no");
        assert_eq!(
            field(&text, "flags"),
            "PRESENT | RW | USER | ACCESSED | DIRTY | NX"
        );
    }

    // PAGE_NONE (0x120) with pfn 0x1234, stored inverted (L1TF): present and protnone.
    #[test]
    fn a_page_none_pte_is_present_protnone_with_the_pfn_uninverted() {
        let v = decode_json("x86_64", "pte", "000f_ffff_fedc_b120");
        assert_eq!(v["kind"], "page");
        assert_eq!(v["pfn"], "0x1234");
        assert_eq!(v["present"], true);
        assert_eq!(v["protnone"], true);
        assert_eq!(v["none"], false);
    }

    // __swp_entry(3, 0x10): type in bits 59-63, offset inverted from bit 9.
    #[test]
    fn a_swap_pte_gives_type_and_offset() {
        let v = decode_json("x86_64", "pte", "0x1fff_ffff_ffff_de00");
        assert_eq!(v["kind"], "swap");
        assert_eq!(v["swap"]["type"], 3);
        assert_eq!(v["swap"]["offset"], 0x10);
        assert_eq!(v["present"], false);
        assert!(v["pfn"].is_null());
        assert!(v["flags"].is_null());
        let text = ok(&["decode", "x86_64", "pte", "0x1fff_ffff_ffff_de00"]);
        assert_eq!(field(&text, "swap"), "type=3 offset=0x10");
    }

    // _PAGE_TABLE (0x67) pointing at pfn 0x1234.
    #[test]
    fn a_table_pmd_points_at_its_pte_table() {
        let v = decode_json("x86_64", "pmd", "0x1234067");
        assert_eq!(v["kind"], "table");
        assert_eq!(v["pfn"], "0x1234");
        assert_eq!(v["trans_huge"], false);
    }

    // mk_huge_pmd(0x200, rw) and what pmdp_invalidate makes of it.
    #[test]
    fn a_huge_pmd_and_its_invalidated_form() {
        let v = decode_json("x86_64", "pmd", "0x8000_0000_0020_00a7");
        assert_eq!(v["kind"], "huge");
        assert_eq!(v["pfn"], "0x200");
        assert_eq!(v["trans_huge"], true);
        let v = decode_json("x86_64", "pmd", "0x800f_ffff_ffc0_00a6");
        assert_eq!(v["kind"], "huge-invalid");
        assert_eq!(v["pfn"], "0x200");
        assert_eq!(v["present"], true);
        assert_eq!(v["trans_huge"], true);
        assert_eq!(v["none"], false);
    }

    // pte_none ignores accessed and dirty (the Knights Landing erratum).
    #[test]
    fn accessed_and_dirty_alone_are_none() {
        let v = decode_json("x86_64", "pte", "0x60");
        assert_eq!(v["kind"], "none");
        assert_eq!(v["none"], true);
    }

    #[test]
    fn decode_json_has_every_field() {
        let v = decode_json("x86_64", "pte", "0");
        for key in [
            "arch",
            "level",
            "raw",
            "kind",
            "pfn",
            "swap",
            "none",
            "present",
            "trans_huge",
            "protnone",
            "flags",
        ] {
            assert!(v.get(key).is_some(), "no {key} in {v}");
        }
        assert_eq!(v["raw"], "0x0");
    }

    // decode's JSON is the library's one entry record (the one report.json carries for every
    // touched entry) with the backend and level beside it: it parses back into
    // `audit::EntryRecord` and equals the record built from the library's own decoding.
    #[test]
    fn decode_json_is_the_librarys_entry_record() {
        use pgtable::audit::EntryRecord;
        use pgtable::decode::Level;
        let x86 = pgtable::arch::lookup("x86_64").unwrap();
        for (level, lv, raw) in [
            ("pte", Level::Pte, 0x8000_0000_1234_5067_u64),
            ("pte", Level::Pte, 0x1fff_ffff_ffff_de00),
            ("pmd", Level::Pmd, 0x8000_0000_0020_00a7),
            ("pmd", Level::Pmd, 0),
        ] {
            let v = decode_json("x86_64", level, &format!("{raw:#x}"));
            let parsed: EntryRecord = serde_json::from_value(v.clone()).expect("an EntryRecord");
            let own = EntryRecord::from(&x86.decode(lv, raw, None).unwrap());
            assert_eq!(parsed, own, "{v}");
        }
    }

    #[test]
    fn addr_is_taken_in_hex_and_echoed() {
        let text = ok(&["decode", "x86_64", "pte", "0", "--addr", "0x7fff_0000_1000"]);
        assert_eq!(field(&text, "addr"), "0x7fff00001000");
    }

    #[test]
    fn a_value_wider_than_64_bits_is_refused() {
        let msg = usage_error(&["decode", "x86_64", "pte", "0x1_0000_0000_0000_0000"]);
        assert!(msg.contains("wider than 64 bits"), "{msg}");
    }
}

// --- bad input ---

#[test]
fn an_unknown_arch_lists_the_known_names() {
    let msg = usage_error(&["decode", "vax", "pte", "0"]);
    assert!(msg.contains("unknown architecture 'vax'"), "{msg}");
    for b in pgtable::arch::BACKENDS {
        assert!(msg.contains(b.id().name()), "{msg}");
    }
}

#[test]
fn a_bad_level_names_the_possible_ones() {
    let arch = any_arch();
    let msg = usage_error(&["decode", arch, "pud", "0"]);
    assert!(msg.contains("'pud'") && msg.contains("pte, pmd"), "{msg}");
}

// The level can follow the value as --level; given twice, the two must agree.
#[test]
fn the_level_can_be_given_with_dash_dash_level() {
    let positional = ok(&["decode", "x86_64", "pmd", "0x80"]);
    let flag = ok(&["decode", "x86_64", "0x80", "--level", "pmd"]);
    assert_eq!(positional, flag);
    assert!(flag.contains("huge-invalid"), "{flag}");
    // Bit 7 is PAT in a pte: the same word is a swap entry there.
    assert!(ok(&["decode", "x86_64", "0x80"]).contains("swap"));
    let msg = usage_error(&["decode", "x86_64", "pte", "0x80", "--level", "pmd"]);
    assert!(msg.contains("given twice"), "{msg}");
    assert!(msg.contains("'pte' and --level pmd"), "both values: {msg}");
    let msg = usage_error(&["decode", "x86_64", "0x80", "--level", "pud"]);
    assert!(msg.contains("'pud'"), "{msg}");
}

#[test]
fn a_non_hex_value_says_which_character() {
    let arch = any_arch();
    let msg = usage_error(&["decode", arch, "pte", "0x12g4"]);
    assert!(msg.contains("'g' is not a hex digit"), "{msg}");
    let msg = usage_error(&["decode", arch, "pte", "-1"]);
    assert!(msg.contains("'-1'"), "{msg}");
    let msg = usage_error(&["decode", arch, "pte", "0x"]);
    assert!(msg.contains("no hex digits"), "{msg}");
    let msg = usage_error(&["decode", arch, "pte", "0", "--addr", "x"]);
    assert!(msg.contains("--addr"), "{msg}");
}

#[test]
fn a_value_wider_than_a_32_bit_word_is_value_too_wide() {
    for b in pgtable::arch::BACKENDS
        .iter()
        .filter(|b| b.word_bits() == 32)
    {
        let msg = usage_error(&["decode", b.id().name(), "pte", "0x1_0000_0000"]);
        assert!(msg.contains("does not fit"), "{msg}");
        assert!(msg.contains("32-bit entry word"), "{msg}");
    }
}

#[test]
fn unknown_subcommands_and_missing_arguments_are_usage_errors() {
    let msg = usage_error(&["frobnicate"]);
    assert!(msg.contains("'frobnicate'"), "{msg}");
    let msg = usage_error(&[]);
    assert!(msg.contains("no subcommand"), "{msg}");
    let msg = usage_error(&["decode", "x86_64"]);
    assert!(msg.contains("<LEVEL>") && msg.contains("VALUE"), "{msg}");
    let msg = usage_error(&["arches", "--frob"]);
    assert!(msg.contains("'--frob'"), "{msg}");
}

#[test]
fn help_and_version_exit_zero() {
    assert!(ok(&["--help"]).contains("decode"));
    assert!(ok(&["decode", "--help"]).contains("<LEVEL>"));
    assert!(ok(&["--version"]).starts_with("pgtable "));
}

// `help` is clap's subcommand; asking it for its own help shows the top-level help.
#[test]
fn help_dash_dash_help_shows_the_top_level_help() {
    let top = ok(&["--help"]);
    assert_eq!(ok(&["help", "--help"]), top);
    assert_eq!(ok(&["help", "-h"]), top);
    assert!(ok(&["help", "decode"]).contains("<LEVEL>"));
}

// `decode x86_64 pte` without a value names what is missing, not 'p' as a hex digit.
#[test]
fn a_level_without_a_value_says_the_value_is_missing() {
    let arch = any_arch();
    for level in ["pte", "pmd"] {
        let msg = usage_error(&["decode", arch, level]);
        assert!(
            msg.contains(&format!("the entry value is missing after '{level}'")),
            "{msg}"
        );
        assert!(!msg.contains("hex digit"), "{msg}");
    }
}

// Every raw value in decode's JSON is a hex string; the pfn too (and null where none).
#[test]
fn decode_json_writes_the_pfn_as_a_hex_string() {
    for b in pgtable::arch::BACKENDS {
        let v: Value = serde_json::from_str(&ok(&[
            "decode",
            b.id().name(),
            "pmd",
            &format!("{:#x}", b.empty_pmd()),
            "--json",
        ]))
        .expect("JSON");
        assert!(v["pfn"].is_null() || v["pfn"].is_string(), "{v}");
    }
    #[cfg(feature = "x86_64")]
    {
        let v = decode_json("x86_64", "pte", "0x8000_0000_0123_4067");
        assert_eq!(v["pfn"], "0x1234");
        assert_eq!(v["raw"], "0x8000000001234067");
    }
}

// --addr shows the empty entry at that address and whether the value is it, on every
// backend; on nios2 the empty pte changes with the address.
#[test]
fn decode_addr_shows_the_empty_pte_at_that_address() {
    const ADDR: u64 = 0x7000;
    for b in pgtable::arch::BACKENDS {
        let empty = b.empty_pte(ADDR);
        let addr = format!("{ADDR:#x}");
        let text = ok(&[
            "decode",
            b.id().name(),
            "pte",
            &format!("{empty:#x}"),
            "--addr",
            &addr,
        ]);
        assert_eq!(field(&text, "addr"), addr, "{text}");
        assert!(
            field(&text, "empty here").starts_with(&format!("{empty:#x} (pte_clear's value")),
            "{text}"
        );
        assert!(
            field(&text, "empty here").ends_with("this value is it)"),
            "{text}"
        );
        let v: Value = serde_json::from_str(&ok(&[
            "decode",
            b.id().name(),
            "pte",
            &format!("{empty:#x}"),
            "--addr",
            &addr,
            "--json",
        ]))
        .expect("JSON");
        assert_eq!(v["addr"]["addr"], addr.as_str());
        assert_eq!(v["addr"]["empty"], format!("{empty:#x}").as_str());
        assert_eq!(v["addr"]["is_empty"], true);
        // Without --addr, nothing about the address is shown.
        let plain = ok(&["decode", b.id().name(), "pte", &format!("{empty:#x}")]);
        assert!(!plain.contains("empty here"), "{plain}");
    }
    #[cfg(feature = "nios2")]
    {
        // nios2's pte_clear stores the low four bits of the page number: 0x7 at 0x7000.
        let text = ok(&["decode", "nios2", "pte", "0x3", "--addr", "0x7000"]);
        assert_eq!(
            field(&text, "empty here"),
            "0x7 (pte_clear's value at this address; this value is not it)"
        );
        assert_eq!(field(&text, "none"), "yes");
    }
}

// --- the README shows the live output ---

// The README shows the default build's table: with fewer backends the live table differs by
// design.
#[test]
#[cfg_attr(
    not(feature = "all-arches"),
    ignore = "the README shows the default backends (all-arches)"
)]
fn readme_arches_block_is_the_live_output() {
    common::check_readme_block("arches", &ok(&["arches"]), "cli");
}

#[cfg(feature = "x86_64")]
#[test]
fn readme_decode_example_is_the_live_output() {
    const ARGS: [&str; 4] = ["decode", "x86_64", "pmd", "0x800f_ffff_ffc0_00a6"];
    let fresh = format!("```text\n$ pgtable {}\n{}```\n", ARGS.join(" "), ok(&ARGS));
    common::check_readme_block("decode", &fresh, "cli");
}
