//! The crash loop, with a few kills (the long variant: `weft-bench crashloop
//! --kills N`). See `weft_e2e::crashloop`.

#[test]
fn sigkills_under_a_mixed_load_lose_and_duplicate_nothing() {
    let r = weft_e2e::crashloop::run(3, 11);
    assert_eq!((r.lost, r.duplicated), (0, 0));
    eprintln!(
        "crash loop: {} executions, {} kills, lost = {}, duplicated = {}, signals = {}",
        r.executions, r.kills, r.lost, r.duplicated, r.signals
    );
}
