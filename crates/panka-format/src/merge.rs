//! Environment overlays: merging an override's tree into a component's.
//!
//! Rules (FORMAT.md): maps merge recursively; scalars replace; lists whose items all have a
//! `name` merge by name (matching items merge, new ones are appended); other lists replace. An
//! overlay value of `null` removes the key. Merged values keep the location they were written
//! at, so a bad value from an environment file is reported in that file.

use crate::yaml::{Node, Value};

/// Merges `overlay` into `base`.
pub fn merge(base: &mut Node, overlay: &Node) {
    match (&mut base.value, &overlay.value) {
        (Value::Map(base_entries), Value::Map(overlay_entries)) => {
            for (key, value) in overlay_entries {
                let existing = base_entries.iter().position(|(k, _)| k.name == key.name);
                match (existing, &value.value) {
                    (Some(i), Value::Null) => {
                        base_entries.remove(i);
                    }
                    (Some(i), _) => merge(&mut base_entries[i].1, value),
                    (None, Value::Null) => {}
                    (None, _) => base_entries.push((key.clone(), value.clone())),
                }
            }
        }
        (Value::Seq(base_items), Value::Seq(overlay_items))
            if is_named_list(base_items) && is_named_list(overlay_items) =>
        {
            for item in overlay_items {
                let name = item_name(item);
                match base_items.iter_mut().find(|b| item_name(b) == name) {
                    Some(existing) => merge(existing, item),
                    None => base_items.push(item.clone()),
                }
            }
        }
        _ => *base = overlay.clone(),
    }
}

fn item_name(node: &Node) -> Option<&str> {
    node.get("name").and_then(Node::as_str)
}

fn is_named_list(items: &[Node]) -> bool {
    items.iter().all(|i| item_name(i).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Sources;
    use crate::yaml::parse_file;
    use std::path::PathBuf;

    fn node(text: &str) -> Node {
        let mut s = Sources::default();
        let id = s.add(PathBuf::from("x.yaml"), text.to_string());
        parse_file(&s, id).unwrap().remove(0)
    }

    #[test]
    fn maps_merge_scalars_replace() {
        let mut base = node("a: {b: 1, c: 2}\nd: x\n");
        merge(&mut base, &node("a: {c: 3, e: 4}\nd: y\n"));
        assert_eq!(
            base.to_json(),
            serde_json::json!({"a": {"b": 1, "c": 3, "e": 4}, "d": "y"})
        );
    }

    #[test]
    fn named_lists_merge_by_name_other_lists_replace() {
        let mut base = node("env: [{name: A, value: '1'}, {name: B, value: '2'}]\ncmd: [a, b]\n");
        merge(
            &mut base,
            &node("env: [{name: B, value: '3'}, {name: C, value: '4'}]\ncmd: [c]\n"),
        );
        assert_eq!(
            base.to_json(),
            serde_json::json!({
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                "cmd": ["c"]
            })
        );
    }

    #[test]
    fn null_removes_a_key() {
        let mut base = node("a: 1\nb: 2\n");
        merge(&mut base, &node("a: null\n"));
        assert_eq!(base.to_json(), serde_json::json!({"b": 2}));
    }
}
