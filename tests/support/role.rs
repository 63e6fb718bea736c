//! The shipped read-only role (deploy/rbac-readonly.yaml), as the tests apply it.

/// The shipped file, as it is in the repo.
pub const ROLE: &str = include_str!("../../deploy/rbac-readonly.yaml");

/// The shipped file's document of this kind, renamed (the test bed may hold an earlier run's).
pub fn shipped(kind: &str, name: &str) -> String {
    use serde::Deserialize;
    for doc in serde_yaml::Deserializer::from_str(ROLE) {
        let mut v = serde_yaml::Value::deserialize(doc).unwrap();
        if v["kind"].as_str() == Some(kind) {
            v["metadata"]["name"] = name.into();
            if let Some(m) = v["metadata"].as_mapping_mut() {
                m.remove("namespace");
            }
            return serde_yaml::to_string(&v).unwrap();
        }
    }
    panic!("no {kind} in deploy/rbac-readonly.yaml")
}

/// A binding of `role` (of `role_kind`) to the user `user`, named `name`.
pub fn binding(kind: &str, name: &str, role_kind: &str, role: &str, user: &str) -> String {
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata: {{name: {name}}}\n\
         subjects: [{{kind: User, name: {user}, apiGroup: rbac.authorization.k8s.io}}]\n\
         roleRef: {{kind: {role_kind}, name: {role}, apiGroup: rbac.authorization.k8s.io}}\n"
    )
}

/// The two users of the role tests, bound on the bed: `(all, some)`, where `all` has the
/// shipped ClusterRole alone and `some` the shipped namespaced Role in `namespaces` alone.
/// Their names hold `namespaces[0]`, so runs do not meet.
pub async fn bind_readers(client: &kube::Client, namespaces: &[&str]) -> (String, String) {
    let first = namespaces[0];
    let cluster_role = format!("meshtop-readonly-{first}");
    let (all, some) = (format!("reader-all-{first}"), format!("reader-ns-{first}"));
    super::create_yaml(client, first, &shipped("ClusterRole", &cluster_role)).await;
    super::create_yaml(
        client,
        first,
        &binding("ClusterRoleBinding", &cluster_role, "ClusterRole", &cluster_role, &all),
    )
    .await;
    for ns in namespaces {
        super::create_yaml(client, ns, &shipped("Role", "meshtop-readonly")).await;
        super::create_yaml(
            client,
            ns,
            &binding("RoleBinding", "meshtop-readonly", "Role", "meshtop-readonly", &some),
        )
        .await;
    }
    (all, some)
}
