//! The operator's command line: accounts and officer profiles.

mod common;

use common::HubDir;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_globallink");

/// Run the command line on `dir`'s data dir and database.
fn run(dir: &HubDir, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("GLOBALLINK_DATA_DIR", dir.path())
        .envs(dir.database.hub_env())
        .output()
        .expect("runs")
}

/// The standard output of a command that must succeed.
fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn accounts_and_profiles_are_managed_from_the_command_line() {
    let dir = HubDir::fresh();
    let out = run(
        &dir,
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
        &dir,
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
        &dir,
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
        &dir,
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
    let dir = HubDir::fresh();
    let catalogue = dir.path().join("services.toml");
    std::fs::write(&catalogue, "[[service]]\ncode = \"Bad Code\"\n").expect("write");
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("GLOBALLINK_DATA_DIR", dir.path())
        .envs(dir.database.hub_env())
        .env("GLOBALLINK_CATALOGUE", &catalogue)
        .output()
        .expect("runs");
    assert!(!out.status.success(), "the hub must not start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&catalogue.display().to_string()), "{err}");
    assert!(err.contains("line"), "{err}");
}

/// `openssl` with `args`; the test fails (never skips) without it.
fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs (Debian package openssl)")
}

#[test]
fn officer_certificates_are_issued_listed_and_revoked_with_a_published_crl() {
    let dir = HubDir::fresh();
    let path = |name: &str| dir.path().join(name).to_str().expect("utf8").to_owned();
    ok(run(&dir, &["pki", "init"]));
    ok(run(
        &dir,
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
    ));
    ok(run(
        &dir,
        &[
            "user",
            "add",
            "--username",
            "au",
            "--role",
            "auditor",
            "--name",
            "Auditor",
        ],
    ));
    // The officer's key pair, as a browser or a token would make it; only the public half
    // reaches the CA.
    ok(openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        &path("officer.key"),
    ]));
    ok(openssl(&[
        "pkey",
        "-in",
        &path("officer.key"),
        "-pubout",
        "-out",
        &path("officer.pub"),
    ]));

    let refused = run(
        &dir,
        &[
            "pki",
            "issue",
            "--username",
            "au",
            "--public-key",
            &path("officer.pub"),
        ],
    );
    assert!(
        !refused.status.success(),
        "auditors get no signing certificate"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not an officer"));

    let mut certs = Vec::new();
    for n in 0..2 {
        let pem = ok(run(
            &dir,
            &[
                "pki",
                "issue",
                "--username",
                "li",
                "--public-key",
                &path("officer.pub"),
                "--days",
                "30",
            ],
        ));
        let file = path(&format!("officer-{n}.pem"));
        std::fs::write(&file, &pem).expect("write");
        certs.push(file);
    }
    let ca = dir.path().join("pki").join("office-ca.pem");
    let crl = dir.path().join("pki").join("office.crl");
    let (ca, crl) = (ca.to_str().expect("utf8"), crl.to_str().expect("utf8"));
    let text = ok(openssl(&["x509", "-in", &certs[0], "-noout", "-text"]));
    assert!(
        text.contains("Digital Signature") && text.contains("CA:FALSE"),
        "{text}"
    );
    assert!(text.contains("Officer Li"), "{text}");
    for cert in &certs {
        let out = ok(openssl(&[
            "verify",
            "-crl_check",
            "-CAfile",
            ca,
            "-CRLfile",
            crl,
            cert,
        ]));
        assert!(out.contains("OK"), "{out}");
    }

    let listed = ok(run(&dir, &["pki", "list"]));
    let serials: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert_eq!(serials.len(), 2, "{listed}");
    assert!(
        listed
            .lines()
            .all(|l| l.contains("\tli\t") && l.ends_with("valid")),
        "{listed}"
    );
    let serial_of = |cert: &str| {
        let out = ok(openssl(&["x509", "-in", cert, "-noout", "-serial"]));
        u64::from_str_radix(out.trim().trim_start_matches("serial="), 16).expect("hex serial")
    };
    let revoked = serial_of(&certs[0]).to_string();
    assert!(serials.contains(&revoked.as_str()), "{listed}");

    ok(run(
        &dir,
        &[
            "pki",
            "revoke",
            "--serial",
            &revoked,
            "--reason",
            "key-compromise",
        ],
    ));
    let out = openssl(&[
        "verify",
        "-crl_check",
        "-CAfile",
        ca,
        "-CRLfile",
        crl,
        &certs[0],
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("revoked")
            || String::from_utf8_lossy(&out.stderr).contains("revoked")
    );
    let out = ok(openssl(&[
        "verify",
        "-crl_check",
        "-CAfile",
        ca,
        "-CRLfile",
        crl,
        &certs[1],
    ]));
    assert!(
        out.contains("OK"),
        "the other certificate stays valid: {out}"
    );
    let crl_text = ok(openssl(&["crl", "-in", crl, "-noout", "-text"]));
    assert!(crl_text.contains("Key Compromise"), "{crl_text}");

    let listed = ok(run(&dir, &["pki", "list"]));
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&format!("{revoked}\t")) && l.contains("revoked")),
        "{listed}"
    );
    let again = run(&dir, &["pki", "revoke", "--serial", &revoked]);
    assert!(!again.status.success(), "revoking twice is an error");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already revoked"));
}

#[test]
fn a_backup_restores_accounts_keys_and_certificates_into_a_new_data_directory() {
    let dir = HubDir::fresh();
    ok(run(&dir, &["pki", "init"]));
    ok(run(
        &dir,
        &[
            "user",
            "add",
            "--username",
            "wu",
            "--role",
            "auditor",
            "--name",
            "Auditor Wu",
        ],
    ));
    let backup = tempfile::tempdir().expect("tempdir");
    let file = backup.path().join("hub.zip");
    let file_arg = file.to_str().expect("utf8");
    if dir.database.is_postgres() {
        // PostgreSQL has its own tools (pg_dump); the command says so instead of half working.
        let out = run(&dir, &["admin", "backup", "--out", file_arg]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("SQLite default only"));
        return;
    }
    let text = ok(run(&dir, &["admin", "backup", "--out", file_arg]));
    assert!(text.contains("backed up"), "{text}");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&file)
        .expect("backup")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the backup holds private keys");

    let target = HubDir::fresh();
    ok(run(&target, &["admin", "restore", "--from", file_arg]));
    // The account came back: the same username is taken again.
    let again = run(
        &target,
        &[
            "user",
            "add",
            "--username",
            "wu",
            "--role",
            "auditor",
            "--name",
            "x",
        ],
    );
    assert!(!again.status.success(), "the restored database holds wu");
    for (name, mode) in [("pki/office-ca.key", 0o600), ("pki/office-ca.pem", 0o644)] {
        let original = std::fs::read(dir.path().join(name)).expect("original");
        let copy = target.path().join(name);
        assert_eq!(std::fs::read(&copy).expect("restored"), original, "{name}");
        let got = std::fs::metadata(&copy).expect("meta").permissions().mode() & 0o777;
        assert_eq!(got, mode, "{name}");
    }
    // Restoring over a data directory in use needs --force.
    let out = run(&target, &["admin", "restore", "--from", file_arg]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    ok(run(
        &target,
        &["admin", "restore", "--from", file_arg, "--force"],
    ));

    // A backup with a path that escapes the data directory is refused before anything is
    // written.
    let evil = backup.path().join("evil.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&evil).expect("create"));
    zip.start_file("globallink.db", zip::write::SimpleFileOptions::default())
        .expect("entry");
    zip.start_file("../escaped", zip::write::SimpleFileOptions::default())
        .expect("entry");
    std::io::Write::write_all(&mut zip, b"x").expect("write");
    zip.finish().expect("finish");
    let fresh = HubDir::fresh();
    let out = run(
        &fresh,
        &["admin", "restore", "--from", evil.to_str().expect("utf8")],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsafe entry"));
    assert!(!fresh.path().join("../escaped").exists());
}
