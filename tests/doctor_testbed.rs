//! `meshtop doctor` against the real test bed: the API server's own access reviews for the
//! admin, a user bound only to the shipped read-only ClusterRole, and a user bound only to
//! the shipped namespaced Role in two namespaces.

mod support;

use std::process::Command;

use support::role::bind_readers;
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_meshtop");

/// Runs `meshtop doctor ARGS`: (exit code, stdout with the test's names made constant).
fn doctor(kubeconfig: &std::path::Path, args: &[&str], names: &[(&str, &str)]) -> (i32, String) {
    doctor_in(kubeconfig, args, names, None)
}

/// The same with `config` as $XDG_CONFIG_HOME (meshtop's config file under it).
fn doctor_in(
    kubeconfig: &std::path::Path,
    args: &[&str],
    names: &[(&str, &str)],
    config: Option<&std::path::Path>,
) -> (i32, String) {
    let mut command = Command::new(BIN);
    command.arg("doctor").args(args).arg("--kubeconfig").arg(kubeconfig);
    // Never the developer's own config file: an empty directory when none is given.
    let empty = tempfile::tempdir().unwrap();
    command.env("XDG_CONFIG_HOME", config.unwrap_or(empty.path()));
    let out = command.output().unwrap();
    let mut text = String::from_utf8(out.stdout).unwrap();
    for (from, to) in names {
        text = text.replace(from, to);
    }
    assert!(out.status.code().is_some(), "{}", String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap(), text)
}

#[tokio::test]
async fn doctor_says_what_each_user_may_read_and_the_rule_that_fixes_the_rest() {
    let (client, one) = setup("doctor").await;
    let two = namespace(&client, "doctor").await;
    let (all, some) = bind_readers(&client, &[&one, &two]).await;
    let dir = tempfile::tempdir().unwrap();
    // The users' names hold the namespace's: they are replaced first. The namespaces by
    // names as long (t-doctor- and five hex digits), so the table stays aligned.
    let names = [
        (all.as_str(), "reader-all"),
        (some.as_str(), "reader-ns"),
        (one.as_str(), "t-doctor-one01"),
        (two.as_str(), "t-doctor-two02"),
    ];

    // The admin may read everything.
    let (code, admin) = doctor(&kubeconfig(), &[], &names);
    assert_eq!(code, 0, "{admin}");
    assert!(admin.contains("Everything meshtop reads is allowed."), "{admin}");
    insta::assert_snapshot!("doctor_admin", admin);

    // Bound to the shipped ClusterRole alone: the same, which proves the role is enough.
    let kc_all = impersonating_kubeconfig(dir.path(), &all);
    let (code, text) = doctor(&kc_all, &[], &names);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        text.lines().skip(1).collect::<Vec<_>>(),
        admin.lines().skip(1).collect::<Vec<_>>(),
        "the ClusterRole grants all the admin's rows"
    );
    assert!(
        text.starts_with("CONTEXT meshtop-testbed  USER reader-all  GROUPS system:authenticated\n"),
        "{text}"
    );
    let (code, json) = doctor(&kc_all, &["-o", "json"], &names);
    assert_eq!(code, 0);
    let j: serde_json::Value = serde_json::from_str(&json).unwrap();
    let checks = j["checks"].as_array().unwrap();
    assert_eq!(checks.len(), meshtop::model::access::NEEDS.len());
    assert!(
        checks.iter().all(|c| c["allowed"] == true && c["fix"].is_null()),
        "{json}"
    );

    // Bound to the namespaced Role in two namespaces: there, every namespaced read works;
    // the cluster-scoped ones do not, each with the rule that would fix it.
    let other = tempfile::tempdir().unwrap();
    let kc_some_path = impersonating_kubeconfig(other.path(), &some);
    let (code, in_one) = doctor(&kc_some_path, &["-n", &one], &names);
    assert_eq!(code, 3, "{in_one}");
    insta::assert_snapshot!("doctor_namespaced_role_in_its_namespace", in_one);
    let (code, in_two) = doctor(&kc_some_path, &["-n", &two], &names);
    assert_eq!(code, 3);
    assert_eq!(in_two.replace("two02", "one01"), in_one);
    // The config file's namespace list is read as -n is.
    let config = config_naming(&[&two]);
    let (code, configured) = doctor_in(&kc_some_path, &[], &names, Some(config.path()));
    assert_eq!(code, 3);
    assert_eq!(configured, in_two);
    // -A overrides it.
    let (code, all_of_them) = doctor_in(&kc_some_path, &["-A"], &names, Some(config.path()));
    assert_eq!(code, 3);
    // Across the cluster it may read nothing namespaced either.
    let (code, everywhere) = doctor(&kc_some_path, &[], &names);
    assert_eq!(code, 3);
    assert_eq!(all_of_them, everywhere);
    insta::assert_snapshot!("doctor_namespaced_role_across_the_cluster", everywhere);
}
