//! Stripe's request encoding: `application/x-www-form-urlencoded` with bracketed keys for
//! nested values, as Stripe's own libraries send them: `metadata[order]=42`,
//! `items[0][price]=price_1`, `expand[0]=latest_charge`. Arrays always carry their index.
//!
//! What it does not do: serialise arbitrary serde values. Requests are built field by field in
//! `client.rs`, so every parameter we send is visible in one place.

use std::collections::BTreeMap;

/// The parameters of one Stripe request, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the value at `path`: `["items", "0", "price"]` is `items[0][price]`.
    pub fn at(mut self, path: &[&str], value: impl Into<String>) -> Self {
        self.pairs.push((key(path), value.into()));
        self
    }

    /// Adds `name=value`.
    pub fn with(self, name: &str, value: impl Into<String>) -> Self {
        self.at(&[name], value)
    }

    /// Adds `name=value` unless `value` is empty: for Stripe an empty value means "unset",
    /// which is not what an absent optional field of ours means.
    pub fn text(self, name: &str, value: &str) -> Self {
        if value.is_empty() {
            self
        } else {
            self.with(name, value)
        }
    }

    /// Adds `name[key]=value` for each entry (metadata).
    pub fn map(self, name: &str, map: &BTreeMap<String, String>) -> Self {
        map.iter()
            .fold(self, |form, (k, v)| form.at(&[name, k], v.as_str()))
    }

    /// Adds `name[0]=…`, `name[1]=…` (a list of strings, such as `expand`).
    pub fn list(self, name: &str, values: &[&str]) -> Self {
        values
            .iter()
            .enumerate()
            .fold(self, |form, (i, v)| form.at(&[name, &i.to_string()], *v))
    }

    /// The parameters as `(key, value)` pairs, keys in bracket syntax, nothing escaped yet.
    #[cfg(test)]
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Whether no parameter was added.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The encoded body (or query string): keys and values percent-encoded, brackets included.
    pub fn encode(&self) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            out.append_pair(k, v);
        }
        out.finish()
    }
}

fn key(path: &[&str]) -> String {
    let mut parts = path.iter();
    let mut key = parts.next().map(|s| (*s).to_owned()).unwrap_or_default();
    for part in parts {
        key.push('[');
        key.push_str(part);
        key.push(']');
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_keys_use_brackets_and_arrays_carry_their_index() {
        let metadata = BTreeMap::from([
            ("order".to_owned(), "42".to_owned()),
            ("team".to_owned(), "a&b c".to_owned()),
        ]);
        let form = Form::new()
            .with("amount", "1000")
            .at(&["items", "0", "price"], "price_1")
            .map("metadata", &metadata)
            .list("expand", &["latest_charge", "customer"]);
        let keys: Vec<&str> = form.pairs().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "amount",
                "items[0][price]",
                "metadata[order]",
                "metadata[team]",
                "expand[0]",
                "expand[1]"
            ]
        );
        assert_eq!(
            form.encode(),
            "amount=1000&items%5B0%5D%5Bprice%5D=price_1&metadata%5Border%5D=42&\
             metadata%5Bteam%5D=a%26b+c&expand%5B0%5D=latest_charge&expand%5B1%5D=customer"
        );
    }

    #[test]
    fn empty_text_is_left_out_and_unicode_is_utf8_percent_encoded() {
        let form = Form::new().text("description", "").text("name", "Zoë=1");
        assert_eq!(form.encode(), "name=Zo%C3%AB%3D1");
        assert!(Form::new().text("x", "").is_empty());
    }
}
