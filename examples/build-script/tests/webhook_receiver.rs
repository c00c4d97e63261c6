//! The README's webhook receiver example runs, and says what it did.

#[test]
fn the_webhook_receiver_example_runs() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_webhook_receiver"))
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "sent: 3 delivered",
        "forged delivery answered 401",
        "handled: pet rex adopted",
        "handled: pet tom adopted",
        "dead letter adoption-3: after 1 attempt(s): invalid: event `pet.adopted`: invalid data at $.adopted_at",
        "inbox: 2 done, 1 dead",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }
}
