//! `.ci/deps`, the one place that installs the system packages `make test`, `make bench` and
//! `.ci/run` need: it reports what is missing with the exact command to run, installs nothing
//! when everything is present, and keeps to the groups asked for. These tests give it their
//! own tables and `PM_DEPS=check`, so they never call apt-get.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run_deps(name: &str, table: &str, groups: &[&str]) -> Output {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let table_path = dir.join(format!("deps-table-{name}"));
    std::fs::write(&table_path, table).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/deps");
    Command::new("bash")
        .arg(&script)
        .args(groups)
        .env("PM_DEPS", "check")
        .env("PM_DEPS_TABLE", &table_path)
        .output()
        .expect("bash runs .ci/deps")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The table's groups miss something, and the command it prints installs exactly `packages`.
fn assert_installs(name: &str, table: &str, groups: &[&str], packages: &str) {
    let out = run_deps(name, table, groups);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("apt-get install -y {packages}\n")),
        "{text}"
    );
}

const MISSING: &str = "cmd:pm-deps-test-no-such-command   pm-test-pkg-a   test   the missing-command row\n\
                       file:/nonexistent/pm-deps-test.h   pm-test-pkg-b   test   the missing-header row\n\
                       cmd:sh                             pm-test-pkg-c   test   a present command\n";

#[test]
fn missing_rows_are_listed_with_the_exact_install_command() {
    let out = run_deps("missing", MISSING, &["test"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("pm-test-pkg-a (pm-deps-test-no-such-command): the missing-command row"),
        "{text}"
    );
    assert!(
        text.contains("pm-test-pkg-b (/nonexistent/pm-deps-test.h): the missing-header row"),
        "{text}"
    );
    assert!(
        text.contains("apt-get install -y pm-test-pkg-a pm-test-pkg-b\n"),
        "{text}"
    );
    assert!(
        !text.contains("pm-test-pkg-c"),
        "a present row is not reported: {text}"
    );
}

#[test]
fn nothing_missing_means_no_output_and_success() {
    let table = "cmd:sh   pm-test-pkg-c   test   a present command\n# a comment\n\n";
    let out = run_deps("present", table, &["test"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
}

#[test]
fn only_the_requested_groups_count() {
    let table =
        "cmd:pm-deps-test-no-such-command   pm-test-pkg-a   bench   only the bench needs it\n";
    let out = run_deps("groups", table, &["test"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_installs("groups-bench", table, &["bench"], "pm-test-pkg-a");
    assert_installs("groups-all", table, &["all"], "pm-test-pkg-a");
}

#[test]
fn a_package_needed_by_two_rows_is_named_once() {
    let table = "cmd:pm-deps-test-x   pm-test-pkg-a   test   one\ncmd:pm-deps-test-y   pm-test-pkg-a   test   two\n";
    assert_installs("dedup", table, &["test"], "pm-test-pkg-a");
}

#[test]
fn python_modules_are_checked_by_importing_them() {
    let table = "python:pm_deps_test_no_such_module   pm-test-pkg-a   test   missing\n\
                 python:os                            pm-test-pkg-b   test   present\n";
    assert_installs("python", table, &["test"], "pm-test-pkg-a");
}

#[test]
fn an_unknown_check_kind_is_an_error() {
    let out = run_deps(
        "bad",
        "url:http://x   pm-test-pkg-a   test   nonsense\n",
        &["test"],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_real_table_is_well_formed() {
    // Every row's check kind is known (exit 2 otherwise), whatever this machine has installed.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/deps");
    let out = Command::new("bash")
        .arg(&script)
        .arg("all")
        .env("PM_DEPS", "check")
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
}
