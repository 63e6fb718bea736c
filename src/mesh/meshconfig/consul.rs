//! Consul's ServiceIntentions: which services may call a destination.

use super::text::and_list;
use super::{Found, Inventory, MeshObject, items, str_of};

pub(super) fn explain(_inv: &Inventory, o: &MeshObject, _f: &mut Found) -> String {
    let dest = str_of(&o.spec["destination"]["name"]);
    let rules: Vec<String> = items(&o.spec["sources"])
        .iter()
        .map(|s| {
            let from = match str_of(&s["name"]) {
                "*" => "everyone".to_string(),
                name => name.to_string(),
            };
            match s["action"].as_str() {
                Some(action) => format!("{} from {from}", action.to_lowercase()),
                None => {
                    let perms: Vec<String> = items(&s["permissions"])
                        .iter()
                        .map(|p| {
                            let http = &p["http"];
                            let path = match (http["pathPrefix"].as_str(), http["pathExact"].as_str()) {
                                (Some(prefix), _) => format!("{prefix}*"),
                                (None, Some(exact)) => exact.to_string(),
                                (None, None) => "every path".to_string(),
                            };
                            format!("{} {path}", str_of(&p["action"]).to_lowercase())
                        })
                        .collect();
                    format!("from {from}: {}", and_list(&perms))
                }
            }
        })
        .collect();
    format!("{dest}: {}", rules.join("; "))
}
