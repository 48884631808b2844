//! Reads Stripe's form encoding back into JSON: `metadata[k]=v` becomes an object and
//! `items[0][price]=p` an array, as Stripe's servers read it. Every leaf stays a string, as on
//! the wire; the handlers parse numbers and booleans where Stripe does.

use serde_json::{Map, Value};

/// The parameters of a form body or query string.
pub fn parse(encoded: &str) -> Value {
    let mut root = Value::Object(Map::new());
    for (key, value) in url::form_urlencoded::parse(encoded.as_bytes()) {
        insert(&mut root, &path(&key), Value::String(value.into_owned()));
    }
    arrays(root)
}

/// `a[b][0]` as `["a", "b", "0"]`.
fn path(key: &str) -> Vec<String> {
    let (head, rest) = key.split_once('[').unwrap_or((key, ""));
    let mut parts = vec![head.to_owned()];
    parts.extend(
        rest.split('[')
            .map(|p| p.trim_end_matches(']').to_owned())
            .filter(|p| !p.is_empty()),
    );
    parts
}

fn insert(node: &mut Value, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    let map = node.as_object_mut().unwrap();
    if rest.is_empty() {
        map.insert(first.clone(), value);
    } else {
        let child = map
            .entry(first.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        insert(child, rest, value);
    }
}

/// Objects whose keys are exactly 0..n become arrays, in index order.
fn arrays(node: Value) -> Value {
    match node {
        Value::Object(map) => {
            let n = map.len();
            let indexed = n > 0 && (0..n).all(|i| map.contains_key(&i.to_string()));
            if indexed {
                let mut map = map;
                Value::Array(
                    (0..n)
                        .map(|i| arrays(map.remove(&i.to_string()).unwrap()))
                        .collect(),
                )
            } else {
                Value::Object(map.into_iter().map(|(k, v)| (k, arrays(v))).collect())
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn brackets_nest_and_indices_make_arrays() {
        let v = parse(
            "amount=100&metadata%5Border%5D=42&items[0][price]=price_1&items[1][price]=p2\
             &expand%5B0%5D=latest_charge&name=Zo%C3%AB+x",
        );
        assert_eq!(
            v,
            json!({
                "amount": "100",
                "metadata": {"order": "42"},
                "items": [{"price": "price_1"}, {"price": "p2"}],
                "expand": ["latest_charge"],
                "name": "Zoë x",
            })
        );
        assert_eq!(parse(""), json!({}));
    }
}
