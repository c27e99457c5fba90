//! U+0000 never reaches a resolver. PostgreSQL's `text` cannot hold it (`invalid byte
//! sequence for encoding "UTF8": 0x00`), and no field of this API has a use for it, so a
//! request carrying it in any string (an argument's literal, a variable, a value nested in
//! an input object or a list, a variable's default) is refused before it runs, with
//! `VALIDATION_ERROR` naming the argument or input field that holds it.
//!
//! One check for every operation, over HTTP and WebSocket: [`refuse_nul`] walks the parsed
//! document (every operation and fragment, so fragment spreads need no following) and the
//! variables the request sends.

use async_graphql::{
    parser::types::{Directive, ExecutableDocument, Selection, SelectionSet},
    Positioned, Variables,
};

use crate::error::AppError;

/// What the refusal says of the field.
pub const MESSAGE: &str = "must not contain the NUL character (U+0000)";

/// `Err(VALIDATION_ERROR)` naming the first argument or input field of `request` whose value
/// contains U+0000. A document that does not parse passes: async-graphql answers it.
pub fn refuse_nul(request: &mut async_graphql::Request) -> Result<(), AppError> {
    let variables = std::mem::take(&mut request.variables);
    let found = match request.parsed_query() {
        Ok(doc) => in_document(doc, &variables),
        Err(_) => None,
    };
    // Variables no argument names (unused, or only in places not walked) still count.
    let found = found.or_else(|| {
        variables
            .iter()
            .find_map(|(name, value)| in_const(name.as_str(), value))
    });
    request.variables = variables;
    match found {
        Some(field) => Err(AppError::field(&field, MESSAGE)),
        None => Ok(()),
    }
}

/// The first of `$arguments` (a field's or directive's) whose value, with the variables
/// it names resolved from `$variables`, holds U+0000. A macro because the parser's
/// `Value` of a literal is not exported by name, so no function can take it.
macro_rules! in_arguments {
    ($arguments:expr, $variables:expr) => {
        $arguments.iter().find_map(|(name, value)| {
            let resolved = value.node.clone().into_const_with(|variable| {
                Ok::<_, std::convert::Infallible>($variables.get(&variable).cloned().unwrap_or_default())
            });
            resolved.ok().and_then(|value| in_const(name.node.as_str(), &value))
        })
    };
}

/// The first field of `doc` holding U+0000, directly or through a variable.
fn in_document(doc: &ExecutableDocument, variables: &Variables) -> Option<String> {
    let operations = doc.operations.iter().map(|(_, op)| &op.node);
    for operation in operations {
        for definition in &operation.variable_definitions {
            let definition = &definition.node;
            if let Some(default) = &definition.default_value {
                if let Some(field) = in_const(definition.name.node.as_str(), &default.node) {
                    return Some(field);
                }
            }
        }
        let found = in_directives(&operation.directives, variables)
            .or_else(|| in_selections(&operation.selection_set.node, variables));
        if found.is_some() {
            return found;
        }
    }
    doc.fragments.values().find_map(|fragment| {
        in_directives(&fragment.node.directives, variables)
            .or_else(|| in_selections(&fragment.node.selection_set.node, variables))
    })
}

fn in_selections(set: &SelectionSet, variables: &Variables) -> Option<String> {
    set.items.iter().find_map(|selection| match &selection.node {
        Selection::Field(field) => {
            let field = &field.node;
            in_arguments!(field.arguments, variables)
                .or_else(|| in_directives(&field.directives, variables))
                .or_else(|| in_selections(&field.selection_set.node, variables))
        }
        Selection::InlineFragment(fragment) => in_directives(&fragment.node.directives, variables)
            .or_else(|| in_selections(&fragment.node.selection_set.node, variables)),
        // Each fragment definition is walked once on its own.
        Selection::FragmentSpread(spread) => in_directives(&spread.node.directives, variables),
    })
}

fn in_directives(directives: &[Positioned<Directive>], variables: &Variables) -> Option<String> {
    directives
        .iter()
        .find_map(|directive| in_arguments!(directive.node.arguments, variables))
}

/// The field holding U+0000 in `value`, given to the field `field`: `field` itself, or the
/// innermost input field of an object that holds it.
fn in_const(field: &str, value: &async_graphql::Value) -> Option<String> {
    use async_graphql::Value;
    match value {
        Value::String(text) => text.contains('\0').then(|| field.to_owned()),
        Value::List(items) => items.iter().find_map(|item| in_const(field, item)),
        Value::Object(fields) => fields.iter().find_map(|(name, value)| in_const(name.as_str(), value)),
        // An object key is a field name: one with U+0000 names no field and fails coercion.
        Value::Null | Value::Number(_) | Value::Boolean(_) | Value::Binary(_) | Value::Enum(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(query: &str, variables: serde_json::Value) -> Option<Vec<String>> {
        let mut request = async_graphql::Request::new(query).variables(Variables::from_json(variables));
        match refuse_nul(&mut request) {
            Ok(()) => None,
            Err(AppError::Validation(fields)) => Some(fields.iter().map(|(k, _)| k.clone()).collect()),
            Err(other) => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn finds_nul_in_literals_variables_nested_objects_lists_and_fragments() {
        assert_eq!(
            refused(r#"{ a(username: "x\u0000y") }"#, serde_json::json!({})),
            Some(vec!["username".into()])
        );
        assert_eq!(
            refused(
                "query($u: String) { a(username: $u) }",
                serde_json::json!({ "u": "x\u{0}" })
            ),
            Some(vec!["username".into()])
        );
        assert_eq!(
            refused(
                "mutation($i: In!) { a(input: $i) { id } }",
                serde_json::json!({ "i": { "bio": "ok", "skills": ["fine", "b\u{0}d"] } })
            ),
            Some(vec!["skills".into()])
        );
        assert_eq!(
            refused(r#"{ a(input: { nested: { bio: "\u0000" } }) }"#, serde_json::json!({})),
            Some(vec!["bio".into()])
        );
        assert_eq!(
            refused(
                r#"{ ...F } fragment F on Query { a(q: "\u0000") }"#,
                serde_json::json!({})
            ),
            Some(vec!["q".into()])
        );
        assert_eq!(
            refused(r#"query($q: String = "\u0000") { a(q: $q) }"#, serde_json::json!({})),
            Some(vec!["q".into()])
        );
        assert_eq!(
            refused("{ a }", serde_json::json!({ "unused": "\u{0}" })),
            Some(vec!["unused".into()])
        );
    }

    #[test]
    fn clean_requests_and_unparseable_documents_pass() {
        assert_eq!(
            refused(
                r#"query($u: String) { a(username: $u, b: "x\\u0000") }"#,
                serde_json::json!({ "u": "fine" })
            ),
            None
        );
        assert_eq!(refused("{ a(", serde_json::json!({})), None);
    }
}
