//! The console's and widget's TypeScript types of the live frames (`<Variant>Frame` interfaces), generated from the OpenAPI
//! document (so from the Rust definitions in `kefu_core::frames`), and the test that keeps the
//! committed `web/src/types/frames.gen.ts` equal to them.
//!
//! Run `KEFU_WRITE_FRAMES_TS=1 cargo test -p kefu-http frames_typescript` to rewrite the file
//! after changing a frame or a type it carries; without the variable the test fails on any
//! difference, so the two sides cannot drift.
//!
//! The mapping is the small subset of JSON Schema that utoipa emits for these types. One rule is
//! kefu's own: a nullable property is always present (kefu's frame types never skip `None` when
//! serialising), so it is typed `T | null`, not optional.

use kefu_core::frames::{Receivers, ServerFrame};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Write;

const REF_PREFIX: &str = "#/components/schemas/";

/// The TypeScript module: one interface per frame, `AgentFrame`, `ShopperFrame` and
/// `ServerFrame` unions, and every schema the frames refer to.
pub fn frames_typescript() -> String {
    let doc = serde_json::to_value(crate::openapi::document()).expect("the document serialises");
    let schemas = &doc["components"]["schemas"];
    let members = schemas["ServerFrame"]["oneOf"]
        .as_array()
        .expect("ServerFrame is a oneOf");
    assert_eq!(
        members.len(),
        ServerFrame::VARIANTS.len(),
        "ServerFrame::VARIANTS lists every variant"
    );
    let mut out = String::from(
        "// Generated from kefu_core::frames::ServerFrame by `KEFU_WRITE_FRAMES_TS=1 cargo test -p kefu-http \
         frames_typescript`.\n// Do not edit: change the Rust definition and regenerate.\n\n",
    );
    let mut referenced = BTreeSet::new();
    for (member, (name, tag, _)) in members.iter().zip(ServerFrame::VARIANTS) {
        let member_tag = member["properties"]["type"]["enum"][0].as_str();
        assert_eq!(member_tag, Some(*tag), "VARIANTS follows the enum's order");
        doc_comment(&mut out, member, "");
        let _ = writeln!(
            out,
            "export interface {name}Frame {}\n",
            object(member, &mut referenced, "")
        );
    }
    let union = |wanted: &[Receivers]| {
        ServerFrame::VARIANTS
            .iter()
            .filter(|(_, _, r)| wanted.contains(r))
            .map(|(name, _, _)| format!("{name}Frame"))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let _ = writeln!(
        out,
        "/** What an agent console receives on `/api/v1/ws`. */\nexport type AgentFrame = {}\n",
        union(&[Receivers::Agents, Receivers::Both])
    );
    let _ = writeln!(
        out,
        "/** What a shopper's widget receives on `/api/v1/widget/ws`. */\nexport type ShopperFrame = {}\n",
        union(&[Receivers::Shoppers, Receivers::Both])
    );
    out.push_str("export type ServerFrame = AgentFrame | ShopperFrame\n");
    // The schemas the frames carry, and the ones those carry, in name order.
    let mut emitted = BTreeSet::new();
    while let Some(name) = referenced.iter().find(|n| !emitted.contains(*n)).cloned() {
        emitted.insert(name.clone());
        let schema = &schemas[&name];
        assert!(!schema.is_null(), "schema {name} is in the document");
        out.push('\n');
        doc_comment(&mut out, schema, "");
        if schema.get("properties").is_some() {
            let body = object(schema, &mut referenced, "");
            let _ = writeln!(out, "export interface {name} {body}");
        } else {
            let ty = ts_type(schema, &mut referenced, "");
            let _ = writeln!(out, "export type {name} = {ty}");
        }
    }
    out
}

fn doc_comment(out: &mut String, schema: &Value, indent: &str) {
    if let Some(text) = schema["description"].as_str() {
        let text = text.trim().replace("*/", "*\\/");
        if text.contains('\n') {
            let _ = writeln!(out, "{indent}/**");
            for line in text.lines() {
                let _ = writeln!(out, "{}", format!("{indent} * {line}").trim_end());
            }
            let _ = writeln!(out, "{indent} */");
        } else {
            let _ = writeln!(out, "{indent}/** {text} */");
        }
    }
}

fn object(schema: &Value, refs: &mut BTreeSet<String>, indent: &str) -> String {
    let Some(props) = schema["properties"].as_object() else {
        return "Record<string, unknown>".into();
    };
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let inner = format!("{indent}  ");
    let mut out = String::from("{\n");
    for (name, prop) in props {
        doc_comment(&mut out, prop, &inner);
        let ty = ts_type(prop, refs, &inner);
        let optional = !required.contains(name.as_str()) && !nullable(prop);
        let mark = if optional { "?" } else { "" };
        let _ = writeln!(out, "{inner}{name}{mark}: {ty}");
    }
    out.push_str(indent);
    out.push('}');
    out
}

fn nullable(schema: &Value) -> bool {
    match &schema["type"] {
        Value::String(t) => t == "null",
        Value::Array(types) => types.iter().any(|t| t == "null"),
        _ => ["oneOf", "anyOf"].iter().any(|k| {
            schema[k]
                .as_array()
                .is_some_and(|items| items.iter().any(nullable))
        }),
    }
}

fn ts_type(schema: &Value, refs: &mut BTreeSet<String>, indent: &str) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r
            .strip_prefix(REF_PREFIX)
            .expect("a local schema reference");
        // Rust's integer aliases (`Id = i64`) are plain numbers on the wire.
        if matches!(name, "i64" | "i32" | "u64" | "u32") {
            return "number".into();
        }
        refs.insert(name.to_owned());
        return name.to_owned();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(items) = schema[key].as_array() {
            return union(items.iter().map(|s| ts_type(s, refs, indent)));
        }
    }
    if let Some(items) = schema["allOf"].as_array() {
        let parts: Vec<String> = items.iter().map(|s| ts_type(s, refs, indent)).collect();
        return parts.join(" & ");
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if types.is_empty() {
        return "unknown".into();
    }
    let mut parts = Vec::new();
    for t in types {
        let part = match t {
            "null" => "null".to_owned(),
            "string" | "integer" | "number" | "boolean" if schema["enum"].as_array().is_some() => {
                let values: Vec<String> = schema["enum"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|v| !v.is_null())
                    .map(Value::to_string)
                    .map(|v| v.replace('"', "'"))
                    .collect();
                values.join(" | ")
            }
            "string" => "string".into(),
            "integer" | "number" => "number".into(),
            "boolean" => "boolean".into(),
            "array" => {
                let item = ts_type(&schema["items"], refs, indent);
                if item.contains(' ') {
                    format!("Array<{item}>")
                } else {
                    format!("{item}[]")
                }
            }
            "object" => match &schema["additionalProperties"] {
                Value::Object(_) => format!(
                    "Record<string, {}>",
                    ts_type(&schema["additionalProperties"], refs, indent)
                ),
                _ => object(schema, refs, indent),
            },
            other => panic!("no TypeScript type for the JSON type {other}"),
        };
        parts.push(part);
    }
    union(parts.into_iter())
}

fn union(parts: impl Iterator<Item = String>) -> String {
    let mut seen = Vec::new();
    for p in parts {
        if !seen.contains(&p) {
            seen.push(p);
        }
    }
    seen.join(" | ")
}

#[cfg(test)]
mod tests {
    use super::frames_typescript;

    /// The committed TypeScript types are the ones the Rust frames generate.
    #[test]
    fn frames_typescript_is_current() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../web/src/types/frames.gen.ts"
        );
        let generated = frames_typescript();
        if std::env::var_os("KEFU_WRITE_FRAMES_TS").is_some() {
            std::fs::write(path, &generated).expect("write frames.gen.ts");
            return;
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "web/src/types/frames.gen.ts is out of date: run \
             `KEFU_WRITE_FRAMES_TS=1 cargo test -p kefu-http frames_typescript` and commit it"
        );
    }
}
