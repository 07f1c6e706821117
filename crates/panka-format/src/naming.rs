//! Deterministic AWS names and the tags every resource carries.
//!
//! A component's AWS name is `{stack}-{environment}-{service}-{component}`. When that is longer
//! than the kind allows, it is cut and given a suffix of 8 hex characters of its SHA-256, so the
//! name stays unique and is the same on every run.

use indexmap::IndexMap;
use sha2::{Digest, Sha256};

use crate::model::Address;

pub const TAG_STACK: &str = "panka:stack";
pub const TAG_ENVIRONMENT: &str = "panka:environment";
pub const TAG_SERVICE: &str = "panka:service";
pub const TAG_COMPONENT: &str = "panka:component";
pub const TAG_MANAGED_BY: &str = "panka:managed-by";

/// The AWS name of a component's main resource, at most `limit` characters.
pub fn physical_name(
    stack: &str,
    environment: &str,
    address: &Address,
    limit: usize,
    lowercase: bool,
) -> String {
    let full = format!(
        "{stack}-{environment}-{}-{}",
        address.service, address.component
    );
    let full = if lowercase {
        full.to_ascii_lowercase()
    } else {
        full
    };
    shorten(&full, limit)
}

/// Cuts `name` to `limit` characters with a stable hash suffix when it is longer.
pub fn shorten(name: &str, limit: usize) -> String {
    if name.len() <= limit {
        return name.to_string();
    }
    let digest = Sha256::digest(name.as_bytes());
    let suffix: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let keep = limit.saturating_sub(suffix.len() + 1);
    let head = name[..keep].trim_end_matches(['-', '.', '_']);
    format!("{head}-{suffix}")
}

/// The tags of every AWS resource of a component: panka's own, then the stack's defaults
/// (which cannot override panka's).
pub fn tags(
    stack: &str,
    environment: &str,
    address: &Address,
    defaults: &IndexMap<String, String>,
) -> IndexMap<String, String> {
    let mut tags = IndexMap::new();
    for (k, v) in defaults {
        if !k.starts_with("panka:") {
            tags.insert(k.clone(), v.clone());
        }
    }
    tags.insert(TAG_STACK.into(), stack.into());
    tags.insert(TAG_ENVIRONMENT.into(), environment.into());
    tags.insert(TAG_SERVICE.into(), address.service.clone());
    tags.insert(TAG_COMPONENT.into(), address.component.clone());
    tags.insert(TAG_MANAGED_BY.into(), "panka".into());
    tags
}

/// A name for stacks, environments, services and components: lowercase letters, digits and
/// single hyphens, starting with a letter, at most 40 characters.
pub fn valid_resource_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept() {
        let a = Address::new("orders", "api");
        assert_eq!(
            physical_name("shop", "dev", &a, 32, false),
            "shop-dev-orders-api"
        );
    }

    #[test]
    fn long_names_are_cut_with_a_stable_suffix() {
        let a = Address::new("order-fulfilment", "payments-api");
        let n1 = physical_name("shop", "production", &a, 32, false);
        let n2 = physical_name("shop", "production", &a, 32, false);
        assert_eq!(n1, n2);
        assert!(n1.len() <= 32, "{n1}");
        let other = physical_name(
            "shop",
            "production",
            &Address::new("order-fulfilment", "payments-apx"),
            32,
            false,
        );
        assert_ne!(n1, other);
    }

    #[test]
    fn panka_tags_win_over_defaults() {
        let mut d = IndexMap::new();
        d.insert("panka:stack".to_string(), "evil".to_string());
        d.insert("team".to_string(), "x".to_string());
        let t = tags("shop", "dev", &Address::new("a", "b"), &d);
        assert_eq!(t["panka:stack"], "shop");
        assert_eq!(t["team"], "x");
        assert_eq!(t["panka:managed-by"], "panka");
    }
}
