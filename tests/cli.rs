//! The operator's command line: accounts and officer profiles.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_globallink");

fn run(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("GLOBALLINK_DATA_DIR", dir)
        .output()
        .expect("runs")
}

#[test]
fn accounts_and_profiles_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(
        dir.path(),
        &[
            "user",
            "add",
            "--username",
            "li",
            "--role",
            "officer",
            "--name",
            "Officer Li",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("created officer li with password "), "{text}");
    let again = run(
        dir.path(),
        &[
            "user",
            "add",
            "--username",
            "li",
            "--role",
            "officer",
            "--name",
            "x",
        ],
    );
    assert!(!again.status.success(), "no duplicate usernames");

    let profile = dir.path().join("li.json");
    std::fs::write(
        &profile,
        r#"{"skills":["inheritance"],"languages":["zh-Hans","it","qingtian"],
            "schedule":{"pattern":{"zone":"Asia/Shanghai","weekly":[
              {"weekday":"Mon","start":"09:00:00","end":"12:00:00"}]},
            "exceptions":[{"kind":"leave","from":"2026-12-01","to":"2026-12-05"}],
            "max_sessions":2}}"#,
    )
    .expect("write");
    let out = run(
        dir.path(),
        &[
            "user",
            "profile",
            "--username",
            "li",
            "--file",
            profile.to_str().expect("utf8"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A shift that ends before it starts is refused with a reason.
    std::fs::write(
        &profile,
        r#"{"skills":[],"languages":[],"schedule":{"pattern":{"zone":"Asia/Shanghai","weekly":[
              {"weekday":"Mon","start":"12:00:00","end":"09:00:00"}]},"max_sessions":1}}"#,
    )
    .expect("write");
    let out = run(
        dir.path(),
        &[
            "user",
            "profile",
            "--username",
            "li",
            "--file",
            profile.to_str().expect("utf8"),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid schedule"));
}

#[test]
fn a_bad_catalogue_stops_start_up_with_the_file_line_and_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalogue = dir.path().join("services.toml");
    std::fs::write(&catalogue, "[[service]]\ncode = \"Bad Code\"\n").expect("write");
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("GLOBALLINK_DATA_DIR", dir.path())
        .env("GLOBALLINK_CATALOGUE", &catalogue)
        .output()
        .expect("runs");
    assert!(!out.status.success(), "the hub must not start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&catalogue.display().to_string()), "{err}");
    assert!(err.contains("line"), "{err}");
}
