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
