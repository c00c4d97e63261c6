//! Compile-fail tests: every mistake the derives turn into a compile error, with its
//! message pinned in `ui/*.stderr` (update with `TRYBUILD=overwrite`), and pass cases
//! that use every attribute.

#[test]
fn ui() {
    // The derive resolves contract paths against the crate's manifest; trybuild builds
    // the cases elsewhere, so point it back here.
    std::env::set_var("ACL_MANIFEST_DIR_OVERRIDE", env!("CARGO_MANIFEST_DIR"));
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass_*.rs");
    t.compile_fail("tests/ui/fail_*.rs");
}
