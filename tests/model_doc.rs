//! docs/MODEL.md lists every law and invariant id with the statement the code carries.

use pgtable::laws::LawId;

const MODEL: &str = include_str!("../docs/MODEL.md");

#[test]
fn every_law_id_is_documented_with_its_statement() {
    for law in LawId::ALL {
        let row = format!("| `{}` | {} |", law.id(), law.statement());
        assert!(
            MODEL.contains(&row),
            "docs/MODEL.md lacks or misstates:\n{row}"
        );
    }
}

#[cfg(feature = "engine")]
#[test]
fn every_invariant_id_is_documented_with_its_statement() {
    use pgtable::engine::invariant::InvariantId;
    // The built-in ones, and those catalogue scenarios declare through the open API.
    let catalogue = pgtable::scenario::CATALOGUE
        .iter()
        .flat_map(|e| e.invariants.iter());
    for inv in InvariantId::ALL.iter().chain(catalogue) {
        let row = format!("| `{}` | {} |", inv.id(), inv.statement());
        assert!(
            MODEL.contains(&row),
            "docs/MODEL.md lacks or misstates:\n{row}"
        );
    }
}
