//! The README's client-surface example is the compiled `examples/readme_client.rs`: the
//! lines between its markers, unindented, must appear verbatim in the README.

#[test]
fn the_readme_shows_the_compiled_client_example() {
    shown_as_compiled("examples/readme_client.rs");
}

#[test]
fn the_readme_shows_the_compiled_mock_vendor_example() {
    shown_as_compiled("examples/readme_mock.rs");
}

/// The lines of `file` between its markers, unindented, appear verbatim in the README.
fn shown_as_compiled(file: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(dir.join(file)).unwrap();
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
        "README.md must show {file} between its markers, as is:\n{shown}"
    );
}

#[test]
fn the_readme_shows_each_setup_as_its_crate_has_it() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    for setup in ["setup-types", "setup-client", "setup-webhooks"] {
        let crate_dir = dir.join("examples").join(setup);
        let read = |p: &str| std::fs::read_to_string(crate_dir.join(p)).unwrap();
        let cargo = read("Cargo.toml");
        let deps = cargo
            .split("# README: dependencies begin\n")
            .nth(1)
            .and_then(|rest| rest.split("# README: dependencies end").next())
            .expect("the manifest has its markers");
        // The README's lines are the manifest's without the workspace's `path`.
        let deps: String = deps
            .lines()
            .map(|l| match l.find("path = \"") {
                Some(a) => match l[a + 8..].find("\", ") {
                    Some(b) => format!("{}{}\n", &l[..a], &l[a + 8 + b + 3..]),
                    None => format!("{l}\n"),
                },
                None => format!("{l}\n"),
            })
            .collect();
        assert!(
            deps.contains("acl-runtime = ") && deps.contains("acl-codegen = "),
            "{deps}"
        );
        for shown in [
            format!("```toml\n{deps}```"),
            format!("```rust\n// build.rs\n{}```", read("build.rs")),
            format!("```rust\n// src/main.rs\n{}```", read("src/main.rs")),
        ] {
            assert!(
                readme.contains(&shown),
                "README.md must show examples/{setup} as it is:\n{shown}"
            );
        }
    }
}
