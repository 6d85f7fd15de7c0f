//! Parsing a record: [`RawApplicant::from_json`] (one JSON object, size-capped, unknown and
//! duplicate fields refused) and [`RawApplicant::from_cells`] (one CSV row by column name).

use super::{COLUMNS, FieldError, MAX_RECORD_BYTES, RawApplicant};

impl RawApplicant {
    /// Parses one JSON object. Errors name the offending field where possible.
    pub fn from_json(bytes: &[u8]) -> Result<RawApplicant, FieldError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(FieldError::new(
                "record",
                "RECORD_TOO_LARGE",
                format!(
                    "record is {} bytes, at most {MAX_RECORD_BYTES}",
                    bytes.len()
                ),
            ));
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let parsed: Result<RawApplicant, _> = serde_path_to_error::deserialize(&mut de);
        let raw = match parsed {
            Ok(r) => r,
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                return Err(json_error(&path, &inner));
            }
        };
        de.end()
            .map_err(|e| FieldError::new("record", "BAD_JSON", format!("trailing data: {e}")))?;
        Ok(raw)
    }

    /// Builds a record from CSV cells keyed by column name (`basis` split on `|`, `test` and
    /// `data_verified` as `true`/`false`; empty cells are absent).
    pub fn from_cells<'a>(
        cells: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<RawApplicant, FieldError> {
        let mut r = RawApplicant::default();
        for (k, v) in cells {
            if v.is_empty() {
                continue;
            }
            let s = Some(v.to_owned());
            match k {
                "ref" => r.reference = s,
                "name" => r.name = s,
                "sex" => r.sex = s,
                "ethnicity" => r.ethnicity = s,
                "birth_date" => r.birth_date = s,
                "id_number" => r.id_number = s,
                "hukou_division" => r.hukou_division = s,
                "hukou_address" => r.hukou_address = s,
                "residence_city" => r.residence_city = s,
                "residence_district" => r.residence_district = s,
                "residence_address" => r.residence_address = s,
                "residence_registered_on" => r.residence_registered_on = s,
                "basis" => r.basis = Some(v.split('|').map(str::to_owned).collect()),
                "test" => r.test = Some(parse_bool(k, v)?),
                "data_verified" => r.data_verified = Some(parse_bool(k, v)?),
                "holder_key" => r.holder_key = s,
                other => {
                    return Err(FieldError::new(
                        other,
                        "UNKNOWN_FIELD",
                        format!("unknown field `{other}`"),
                    ));
                }
            }
        }
        Ok(r)
    }
}

fn parse_bool(field: &str, v: &str) -> Result<bool, FieldError> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(FieldError::new(
            field,
            "INVALID_VALUE",
            format!("`{v}` is not true or false"),
        )),
    }
}

/// Turns a serde error while reading a record into a field error.
fn json_error(path: &str, e: &serde_json::Error) -> FieldError {
    let msg = e.to_string();
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or("?");
        return FieldError::new(field, "UNKNOWN_FIELD", format!("unknown field `{field}`"));
    }
    if let Some(rest) = msg.strip_prefix("duplicate field `") {
        let field = rest.split('`').next().unwrap_or("?");
        return FieldError::new(
            field,
            "DUPLICATE_FIELD",
            format!("field `{field}` appears twice"),
        );
    }
    let field = path.split(['.', '[']).next().unwrap_or(path);
    if e.is_data() && COLUMNS.contains(&field) {
        return FieldError::new(field, "INVALID_TYPE", msg);
    }
    FieldError::new("record", "BAD_JSON", msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_name_the_field() {
        let e = RawApplicant::from_json(br#"{"name":"a","is_admin":true}"#).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("is_admin", "UNKNOWN_FIELD"));
        let e = RawApplicant::from_json(br#"{"name":"a","name":"b"}"#).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("name", "DUPLICATE_FIELD"));
        let e = RawApplicant::from_json(br#"{"name":5}"#).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("name", "INVALID_TYPE"));
        let e = RawApplicant::from_json(br#"{"basis":["a",3]}"#).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("basis", "INVALID_TYPE"));
        let e = RawApplicant::from_json(br#"{"name":"a"} x"#).unwrap_err();
        assert_eq!(e.code, "BAD_JSON");
        let e = RawApplicant::from_json(b"[1]").unwrap_err();
        assert_eq!(e.code, "BAD_JSON");
    }
}
