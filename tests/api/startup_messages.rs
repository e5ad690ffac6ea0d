//! What an operator reads when the binary cannot start: one line naming the problem and the
//! setting behind it, in words.

use std::process::Command;

fn run(args: &[&str], env: &[(&str, &str)]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_org-members"))
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "off")
        .output()
        .expect("the binary runs");
    assert!(!output.status.success(), "{args:?} {env:?} must fail");
    String::from_utf8_lossy(&output.stderr).trim().to_owned()
}

#[test]
fn start_up_refusals_name_the_problem_and_the_setting() {
    let dir = tempfile::tempdir().expect("a folder");
    let database = format!("sqlite://{}/members.sqlite3?mode=rwc", dir.path().display());

    let migrated = Command::new(env!("CARGO_BIN_EXE_org-members"))
        .arg("migrate")
        .env("DATABASE_URL", &database)
        .env("RUST_LOG", "off")
        .output()
        .expect("runs");
    assert!(migrated.status.success());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().expect("address").port().to_string();
    let message = run(&[], &[("PORT", &port), ("DATABASE_URL", &database)]);
    assert!(
        message.contains(&format!("127.0.0.1:{port}")) && message.contains("HOST and PORT"),
        "{message}"
    );

    let message = run(
        &["migrate"],
        &[("DATABASE_URL", "postgres://postgres@127.0.0.1:9/x")],
    );
    assert!(
        message.contains("connection refused") && message.contains("DATABASE_URL"),
        "{message}"
    );
    assert!(!message.contains("Custom Error"), "{message}");

    let typo = format!(
        "sqlite://{}/no-such-folder/members.sqlite3",
        dir.path().display()
    );
    let message = run(&["migrate"], &[("DATABASE_URL", &typo)]);
    assert!(
        message.contains("no-such-folder") && message.contains("does not exist"),
        "{message}"
    );
    assert!(
        !dir.path().join("no-such-folder").exists(),
        "no folder made for a typo"
    );

    let bootstrap = [
        "bootstrap",
        "--email",
        "a@example.org",
        "--password",
        "correct horse",
        "--organization",
        "A",
    ];
    let status = Command::new(env!("CARGO_BIN_EXE_org-members"))
        .args(bootstrap)
        .env("DATABASE_URL", &database)
        .env("RUST_LOG", "off")
        .status()
        .expect("runs");
    assert!(status.success());
    let message = run(&bootstrap, &[("DATABASE_URL", &database)]);
    assert_eq!(
        message,
        "org-members: An account with this email already exists: sign in, then accept the invitation or join through the link with POST /api/invite/accept."
    );
    drop(taken);
}
