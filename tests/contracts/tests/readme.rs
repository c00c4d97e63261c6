//! The README's client-surface example is the compiled `examples/readme_client.rs`: the
//! lines between its markers, unindented, must appear verbatim in the README.

#[test]
fn the_readme_shows_the_compiled_client_example() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(dir.join("examples/readme_client.rs")).unwrap();
    let readme = std::fs::read_to_string(dir.join("../../README.md")).unwrap();
    let body = example
        .split("// README: begin\n")
        .nth(1)
        .and_then(|rest| rest.split("    // README: end").next())
        .expect("the example has its markers");
    let shown: String = body
        .lines()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(shown.lines().count() > 20, "{shown}");
    assert!(
        readme.contains(&format!("```rust\n{shown}```")),
        "README.md must show examples/readme_client.rs between its markers, as is:\n{shown}"
    );
}
