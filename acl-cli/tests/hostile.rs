//! Hostile contracts: `$ref`s that try to read files outside the contract's folder,
//! devices and oversized files, YAML alias bombs, duplicate keys. Each is refused with a
//! diagnostic at its place, within bounded time and memory.

use std::path::{Path, PathBuf};
use std::process::Command;

use acl_codegen::{Generator, Settings};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("acl-hostile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_acl-codegen"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .output()
        .unwrap();
    let code = out.status.code().expect("exited by signal (a crash)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "panic:\n{stderr}");
    (code, stdout, stderr)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn contract_with_ref(target: &str) -> String {
    format!(
        "openapi: 3.0.3\ninfo: {{title: T, version: '1'}}\npaths: {{}}\ncomponents:\n  schemas:\n    Leak:\n      $ref: '{target}'\n"
    )
}

const SECRET: &str = "type: object\ndescription: TOP-SECRET-VALUE\n";

#[test]
fn refs_outside_the_contracts_folder_are_refused_at_their_pointer() {
    let dir = scratch("outside");
    let vendor = dir.join("vendor");
    std::fs::create_dir_all(&vendor).unwrap();
    write(&dir, "secret.yaml", SECRET);
    let targets = [
        "../secret.yaml".to_string(),
        dir.join("secret.yaml").display().to_string(),
        format!("file://{}", dir.join("secret.yaml").display()),
        "/etc/passwd".to_string(),
        "file:///etc/hostname".to_string(),
        "/proc/self/environ".to_string(),
        "/dev/zero".to_string(),
        "/dev/stdin".to_string(),
    ];
    for target in targets {
        let f = write(&vendor, "api.yaml", &contract_with_ref(&target));
        let (code, stdout, stderr) = run(&["check", &f]);
        assert_eq!(code, 1, "{target}: {stdout}{stderr}");
        assert!(
            stderr.contains("ref-refused") && stderr.contains("/components/schemas/Leak/$ref"),
            "{target}: {stderr}"
        );
        assert!(stdout.contains("1 errors"), "{target}: {stdout}");
        // Generation writes nothing of the file.
        let out = dir.join("out");
        let _ = std::fs::remove_dir_all(&out);
        let (code, _, _) = run(&["generate", &f, "--out", out.to_str().unwrap()]);
        assert_ne!(code, 0, "{target}");
        if let Ok(text) = std::fs::read_to_string(out.join("contract/1.json")) {
            panic!("{target} was embedded: {text}");
        }
    }
}

#[test]
fn allow_dir_lets_a_reference_read_a_sibling_folder() {
    let dir = scratch("allow");
    let vendor = dir.join("vendor");
    let common = dir.join("common");
    std::fs::create_dir_all(&vendor).unwrap();
    std::fs::create_dir_all(&common).unwrap();
    write(&common, "shared.yaml", SECRET);
    let f = write(
        &vendor,
        "api.yaml",
        &contract_with_ref("../common/shared.yaml"),
    );
    let (code, _, stderr) = run(&["check", &f]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("--allow-dir"), "{stderr}");
    let (code, stdout, stderr) = run(&["check", &f, "--allow-dir", common.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The folders of --map-uri are allowed too.
    let f = write(
        &vendor,
        "api.yaml",
        &contract_with_ref("https://schemas.example.com/shared.yaml"),
    );
    let map = format!("https://schemas.example.com/={}", common.display());
    let (code, stdout, stderr) = run(&["check", &f, "--map-uri", &map]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // ... but not what a mapped URI reaches by climbing out of them.
    let f = write(
        &vendor,
        "api.yaml",
        &contract_with_ref("https://schemas.example.com/%2e%2e/%2e%2e/etc/passwd"),
    );
    let (code, _, stderr) = run(&["check", &f, "--map-uri", &map]);
    assert_eq!(code, 1, "{stderr}");
}

#[cfg(unix)]
#[test]
fn a_symlink_in_the_contracts_folder_is_followed_before_the_check() {
    let dir = scratch("symlink");
    let vendor = dir.join("vendor");
    std::fs::create_dir_all(&vendor).unwrap();
    write(&dir, "secret.yaml", SECRET);
    std::os::unix::fs::symlink(dir.join("secret.yaml"), vendor.join("innocent.yaml")).unwrap();
    let f = write(&vendor, "api.yaml", &contract_with_ref("innocent.yaml"));
    let (code, _, stderr) = run(&["check", &f]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("ref-refused"), "{stderr}");
    // A symlink to a file inside the folder is fine.
    write(&vendor, "real.yaml", SECRET);
    std::os::unix::fs::symlink(vendor.join("real.yaml"), vendor.join("alias.yaml")).unwrap();
    let f = write(&vendor, "api.yaml", &contract_with_ref("alias.yaml"));
    let (code, _, stderr) = run(&["check", &f]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn files_over_the_size_caps_are_refused_without_reading_them_whole() {
    let dir = scratch("caps");
    write(
        &dir,
        "big.yaml",
        &format!("type: object\ndescription: '{}'\n", "x".repeat(4000)),
    );
    let f = dir.join(write(&dir, "api.yaml", &contract_with_ref("big.yaml")));
    let read = |file: u64, total: u64| {
        let settings = Settings {
            max_file_bytes: file,
            max_contract_bytes: total,
            ..Settings::default()
        };
        Generator::new(settings).read(&f).unwrap()
    };
    let g = read(2000, 1 << 20);
    let d = g
        .diagnostics
        .items()
        .iter()
        .find(|d| d.code == "ref-refused")
        .expect("refused");
    assert!(
        d.message.contains("larger than 2000 bytes"),
        "{}",
        d.message
    );
    let g = read(1 << 20, 4100);
    let d = g
        .diagnostics
        .items()
        .iter()
        .find(|d| d.code == "ref-refused")
        .expect("refused");
    assert!(d.message.contains("together exceed 4100"), "{}", d.message);
    assert_eq!(read(1 << 20, 1 << 20).diagnostics.errors(), 0);
}

#[test]
fn a_yaml_alias_bomb_is_a_parse_error_not_an_abort() {
    let dir = scratch("bomb");
    let mut text = String::from("openapi: 3.0.3\ninfo: {title: T, version: '1'}\npaths: {}\nx-a0: &a0 [l, l, l, l, l, l, l, l, l, l]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(",");
        text.push_str(&format!("x-a{i}: &a{i} [{refs}]\n"));
    }
    let f = write(&dir, "bomb.yaml", &text);
    let (code, _, stderr) = run(&["check", &f]);
    assert_eq!(code, 2, "{stderr}");
    // Under 2 GB of address space (the bomb took 7.7 GB before the budget).
    let limited = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 2000000 && exec '{}' check '{f}'",
            env!("CARGO_BIN_EXE_acl-codegen")
        ))
        .output()
        .unwrap();
    assert_eq!(limited.status.code(), Some(2), "{limited:?}");
    assert!(stderr.contains("alias bomb"), "{stderr}");
    assert!(stderr.contains("bomb.yaml:9:"), "{stderr}");
}

#[test]
fn duplicate_keys_are_errors_at_their_line_and_counted() {
    let dir = scratch("dup");
    let f = write(
        &dir,
        "api.yaml",
        "openapi: 3.1.0\ninfo: {title: T, version: '1'}\npaths: {}\nwebhooks:\n  a: {}\nwebhooks:\n  b: {}\n",
    );
    let (code, stdout, stderr) = run(&["check", &f]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("duplicate-key") && stderr.contains("api.yaml:6:"),
        "{stderr}"
    );
    assert!(stdout.contains("1 errors"), "{stdout}");
    let f = write(
        &dir,
        "api.json",
        r#"{"openapi": "3.1.0", "info": {"title": "T", "version": "1"}, "paths": {}, "components": {"schemas": {"A": {}, "A": {}}}}"#,
    );
    let (code, _, stderr) = run(&["check", &f]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("/components/schemas/A"), "{stderr}");
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let dir = scratch("bom");
    let f = write(
        &dir,
        "api.json",
        "\u{feff}{\"openapi\": \"3.1.0\", \"info\": {\"title\": \"T\", \"version\": \"1\"}, \"paths\": {}}",
    );
    let (code, stdout, stderr) = run(&["check", &f]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn webhook_commands_refuse_an_empty_secret() {
    let dir = scratch("blank-secret");
    let body = write(&dir, "b", "{}");
    for scheme in ["standard", "github", "stripe", "shopify"] {
        for secret in ["", "  ", "whsec_"] {
            for action in ["sign", "verify"] {
                if secret == "whsec_" && scheme != "standard" {
                    continue; // a literal secret for the HMAC-of-text schemes
                }
                let mut args = vec!["webhook", action, "--scheme", scheme, "--secret", secret];
                if action == "sign" {
                    args.extend(["--id", "msg_1"]);
                } else {
                    // GitHub's signature of `{}` made with an empty key.
                    args.extend([
                        "--header",
                        "x-hub-signature-256: sha256=b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad",
                    ]);
                }
                args.extend(["--body-file", &body]);
                let (code, stdout, stderr) = run(&args);
                assert_eq!(code, 2, "{action} {scheme} {secret:?}: {stdout}{stderr}");
                assert!(stderr.contains("secret is empty"), "{stderr}");
                assert!(!stdout.contains("valid"), "{stdout}");
            }
        }
    }
}

const HEAD: &str = "openapi: 3.0.3\ninfo: {title: T, version: '1'}\n";

fn diagnostics_of(dir: &Path, text: &str, extra: &[&str]) -> (i32, String, String) {
    let f = write(dir, "api.yaml", text);
    let mut args = vec!["check", f.as_str()];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn path_templates_are_checked_against_their_parameters() {
    let dir = scratch("templates");
    let ok = "      responses: {'200': {description: ok}}\n";
    // An unbalanced brace: an error at the path, the rest still checked and counted.
    let text = format!(
        "{HEAD}paths:\n  x-codegen-contextRoot: /api\n  /c/{{id:\n    get:\n      operationId: broken\n{ok}  /d/{{id}}:\n    get:\n      operationId: implicit\n{ok}"
    );
    let (code, stdout, stderr) = diagnostics_of(&dir, &text, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("bad-path-template") && stderr.contains("never closed"),
        "{stderr}"
    );
    // A variable no parameter declares: a warning, and the method takes it.
    assert!(stderr.contains("undeclared-path-variable"), "{stderr}");
    assert!(
        stdout.contains("1 operations, 1 warnings, 1 errors"),
        "{stdout}"
    );
    let text = format!("{HEAD}paths:\n  /d/{{id}}:\n    get:\n      operationId: implicit\n{ok}");
    let f = write(&dir, "api.yaml", &text);
    let out = dir.join("out");
    let (code, _, stderr) = run(&["generate", &f, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let client = std::fs::read_to_string(out.join("client.rs")).unwrap();
    assert!(client.contains("id: &str"), "{client}");
    assert!(client.contains(".path(\"id\", &id"), "{client}");
    // A path parameter the template does not name: a warning at its operation.
    let text = format!(
        "{HEAD}paths:\n  /e:\n    get:\n      operationId: stray\n      parameters:\n        - {{name: id, in: path, required: true, schema: {{type: string}}}}\n{ok}"
    );
    let (code, stdout, stderr) = diagnostics_of(&dir, &text, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("unused-path-parameter") && stderr.contains("#/paths/~1e/get"),
        "{stderr}"
    );
    assert!(stdout.contains("1 warnings"), "{stdout}");
}

#[test]
fn a_repeated_operation_id_is_an_error_at_the_second() {
    let dir = scratch("opid");
    let text = format!(
        "{HEAD}paths:\n  /a:\n    get:\n      operationId: same\n      responses: {{'200': {{description: ok}}}}\n  /b:\n    get:\n      operationId: same\n      responses: {{'200': {{description: ok}}}}\n"
    );
    let (code, stdout, stderr) = diagnostics_of(&dir, &text, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("duplicate-operation-id") && stderr.contains("#/paths/~1b/get/operationId"),
        "{stderr}"
    );
    assert!(stdout.contains("1 errors"), "{stdout}");
}

#[test]
fn a_pattern_that_does_not_compile_is_a_warning_and_strict_makes_it_an_error() {
    let dir = scratch("pattern");
    let text = format!(
        "{HEAD}paths: {{}}\ncomponents:\n  schemas:\n    Code: {{type: string, pattern: '([A-Z]'}}\n"
    );
    let (code, stdout, stderr) = diagnostics_of(&dir, &text, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("bad-pattern") && stderr.contains("every value passes"),
        "{stderr}"
    );
    assert!(stdout.contains("1 warnings"), "{stdout}");
    let (code, _, _) = diagnostics_of(&dir, &text, &["--strict"]);
    assert_eq!(code, 1);
}

#[test]
fn defaults_outside_their_schema_or_the_rust_type_are_warned_and_not_emitted() {
    let dir = scratch("defaults");
    let text = format!(
        "{HEAD}paths: {{}}\ncomponents:\n  schemas:\n    Settings:\n      type: object\n      properties:\n        big: {{type: integer, format: int32, default: 3000000000}}\n        huge: {{type: number, format: float, default: 1e300}}\n        high: {{type: integer, maximum: 10, default: 11}}\n        kind: {{type: string, enum: [a, b], default: c}}\n        code: {{type: string, pattern: '^[A-Z]+$', default: abc}}\n        fine: {{type: integer, format: int32, default: 7}}\n"
    );
    let (code, stdout, stderr) = diagnostics_of(&dir, &text, &[]);
    assert_eq!(code, 0, "{stderr}");
    for field in ["big", "huge", "high", "kind", "code"] {
        assert!(
            stderr.contains(&format!("properties/{field}/default")),
            "{field}: {stderr}"
        );
    }
    assert!(stdout.contains("5 warnings"), "{stdout}");
    let f = write(&dir, "api.yaml", &text);
    let out = dir.join("out");
    let (code, _, stderr) = run(&["generate", &f, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let types = std::fs::read_to_string(out.join("types.rs")).unwrap();
    assert!(
        !types.contains("3000000000"),
        "an i32 literal that does not compile"
    );
    assert!(!types.contains("inf"), "{types}");
    assert!(
        types.contains("__default_fine"),
        "the fitting default is kept"
    );
}
