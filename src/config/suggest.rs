//! "Did you mean": the known name nearest to a misspelled one, by edit
//! distance (the only module that knows strsim), and the names of a
//! struct's fields, read from its serde `Deserialize` impl.

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// ", did you mean `region`?" when one of `known` is within a few edits
/// of `word` (a swap of two letters is one; a quarter of its length, at
/// least 1, at most 3), else "". Ties go to the name of the same length.
pub fn did_you_mean<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    nearest(word, known).map_or_else(String::new, |name| format!(", did you mean `{name}`?"))
}

/// The name of `known` nearest to `word`, if near enough ([`did_you_mean`]).
pub fn nearest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let length = word.chars().count();
    let limit = (length / 4).clamp(1, 3);
    let lower = word.to_lowercase();
    known
        .into_iter()
        .map(|name| {
            let distance = strsim::damerau_levenshtein(&lower, &name.to_lowercase());
            (distance, name.chars().count().abs_diff(length), name)
        })
        .filter(|(distance, _, _)| *distance <= limit)
        .min_by_key(|(distance, length_difference, _)| (*distance, *length_difference))
        .map(|(_, _, name)| name)
}

/// The keys of the struct `T` deserializes from: serde's derive hands them
/// to `deserialize_struct`, which this deserializer records and then
/// refuses. Empty for a type that is not a plain struct.
pub fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only the field names are read"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("only the field names are read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(word: &str, known: &[&str], expected: &str) {
        assert_eq!(
            did_you_mean(word, known.iter().copied()),
            expected,
            "{word}"
        );
    }

    #[test]
    fn nearest_names_within_a_few_edits() {
        check("regoin", &["region", "network"], ", did you mean `region`?");
        check(
            "scheduel",
            &["schedule", "severity"],
            ", did you mean `schedule`?",
        );
        check(
            "us-federa",
            &["us-federal", "ca-state", "weekdays"],
            ", did you mean `us-federal`?",
        );
        check(
            "America/Los_Angles",
            &["America/Los_Angeles", "UTC"],
            ", did you mean `America/Los_Angeles`?",
        );
        check("xyz", &["region"], "");
        check("median", &["mean", "max"], "");
        check("=<", &["<", "<=", ">"], ", did you mean `<=`?");
    }

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Example {
        region: String,
        limit: f64,
    }

    #[test]
    fn field_names_come_from_the_deserialize_impl() {
        assert_eq!(field_names::<Example>(), ["region", "limit"]);
        assert!(field_names::<String>().is_empty());
    }
}
